package lambda

import "time"

// Clock runs Lambda's schedule faster: async retries wait about one and two
// minutes and throttled events up to five minutes between tries, which would
// leave a learner staring at a lab. With Scale 60 one Lambda minute passes in
// one real second. Records keep Lambda's times: an event's Lambda time runs
// from when it was accepted at Scale times the real pace.
type Clock struct {
	// Scale is how many Lambda seconds pass in one real second; zero means 60.
	Scale float64
	// Now is the real clock; nil means time.Now.
	Now func() time.Time
}

func (c Clock) scale() float64 {
	if c.Scale <= 0 {
		return 60
	}
	return c.Scale
}

func (c Clock) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// Real is how long a Lambda wait of d takes in real time.
func (c Clock) Real(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.scale())
}

// Elapsed is how much Lambda time has passed since the real instant from.
func (c Clock) Elapsed(from time.Time) time.Duration {
	return time.Duration(float64(c.now().Sub(from)) * c.scale())
}
