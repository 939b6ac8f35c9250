//go:build !linux

package bench

import "syscall"

func childProcessAttr() *syscall.SysProcAttr { return nil }
