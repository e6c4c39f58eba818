package protocol

// DataDurationMS is the key in PageExited's data that carries the time on
// the page in milliseconds, e.g. {"durationMs":12345}; the collector stores
// it as the page's duration (the page resource's durationMs).
const DataDurationMS = "durationMs"
