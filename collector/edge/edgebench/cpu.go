package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times on Linux.
const clockTicks = 100

// groupCPU returns the CPU seconds (user and system) that the processes
// of process group pgid named comm have used, from /proc. Local workerd
// does not report a Worker's CPU time; its process's time per request is
// an upper bound (it also runs local D1's SQLite and the HTTP plumbing).
// ok is false where /proc cannot tell.
func groupCPU(pgid int, comm string) (secs float64, ok bool) {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ... utime(14) stime(15)
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || s[open+1:end] != comm {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) < 13 {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g != pgid {
			continue
		}
		u, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		secs += (u + st) / clockTicks
		ok = true
	}
	return secs, ok
}
