// Package cputime reads the CPU time the process has used. On a shared
// machine the CPU time of a piece of work varies far less from run to run
// than its wall-clock rate (a neighbour taking the cores stretches the
// wall clock, not the work), so it is the figure to compare two builds by.
package cputime

import "time"

// Process returns the CPU time, user and system, that this process has
// used so far, and false where the platform does not report it.
func Process() (time.Duration, bool) { return process() }
