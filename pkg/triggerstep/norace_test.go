//go:build !race

package triggerstep

// raceDetector is true when the tests run under the race detector (make test), whose
// slowdown sizes the chaos test down (chaosDeliveries).
const raceDetector = false
