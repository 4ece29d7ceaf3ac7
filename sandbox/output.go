package sandbox

// invocationLog builds one invocation's log. With a tap (InvokeInput.Output)
// it hands every piece to the tap as the piece is added, so a watcher sees
// the log grow in the order it is kept; without one it is a plain append.
type invocationLog struct {
	b   []byte
	tap func(chunk []byte)
}

func (l *invocationLog) add(p []byte) {
	l.b = append(l.b, p...)
	if l.tap != nil && len(p) > 0 {
		// The tap may keep the chunk; p may be the runtime's buffer.
		l.tap(append([]byte(nil), p...))
	}
}

func (l *invocationLog) addString(s string) {
	l.b = append(l.b, s...)
	if l.tap != nil && s != "" {
		l.tap([]byte(s))
	}
}

// newline ends the output's last line, if open, before a platform line
// follows.
func (l *invocationLog) newline() {
	if len(l.b) > 0 && l.b[len(l.b)-1] != '\n' {
		l.addString("\n")
	}
}

// runtime adds the START line and the runtime's output, of which live has
// passed on part (or all) to the tap already.
func (l *invocationLog) runtime(start string, out []byte, live *liveOutput) {
	if live != nil {
		live.write(nil) // START, if the backend never called
		if live.passed < len(out) {
			live.tap(append([]byte(nil), out[live.passed:]...))
		}
	}
	l.b = append(l.b, start...)
	l.b = append(l.b, out...)
}

// liveOutput is the Output of an Invocation: it passes the runtime's output
// on to the tap while the function runs, after the START line, which goes
// out as soon as the backend says the event is on its way. Nothing goes out
// before that, so an instance found dead (ErrInstanceGone, retried on
// another) has written nothing.
type liveOutput struct {
	tap     func(chunk []byte)
	start   string
	started bool
	passed  int // bytes of the runtime's output passed on
}

func (o *liveOutput) write(p []byte) {
	if !o.started {
		o.started = true
		o.tap([]byte(o.start))
	}
	if len(p) > 0 {
		o.passed += len(p)
		o.tap(p)
	}
}
