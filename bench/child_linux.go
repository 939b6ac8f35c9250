package bench

import "syscall"

// childProcessAttr makes the child server get SIGTERM if the bench dies
// first, so that a killed bench leaves no server behind.
func childProcessAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
