// Package web holds the files the collector serves to browsers: the tracker
// loader gt.js, Go's wasm_exec.js, tracker.wasm, the demo site and the
// operator console, embedded in the binary.
package web
