//go:build !unix

package ipsecoe

import "time"

// processCPU is the CPU time the process has used so far: unknown (0) here.
func processCPU() time.Duration { return 0 }
