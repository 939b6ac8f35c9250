//go:build !linux

package bench

import "syscall"

func benchChildAttr() *syscall.SysProcAttr { return nil }
