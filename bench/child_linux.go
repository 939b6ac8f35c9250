package bench

import "syscall"

// benchChildAttr makes the child server get SIGTERM if the bench dies
// first, so that a killed bench leaves no server behind.
func benchChildAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
