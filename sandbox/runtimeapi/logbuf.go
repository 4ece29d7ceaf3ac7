package runtimeapi

// logBuffer accounts for the runtime's output as one logical byte stream and
// keeps, for the phase in progress, at most max bytes of it. Offsets are
// logical: they count every byte received, kept or dropped, so a marker's
// offset still says exactly where a phase ends after bytes were dropped.
//
// Invariant: kept holds the stream's bytes [keptAt, keptAt+len(kept)); the
// phase in progress began at start (start <= keptAt when kept is not empty);
// every other byte in [start, total) was dropped.
type logBuffer struct {
	max    int
	kept   []byte
	keptAt int64
	start  int64
	total  int64

	seen  uint64 // highest marker sequence read so far
	marks [256]mark
}

type mark struct {
	seq uint64
	off int64
}

// write appends output, dropping what is over the cap. A byte is only kept
// if it directly follows the kept bytes, so kept stays contiguous.
func (b *logBuffer) write(p []byte) {
	if len(b.kept) == 0 {
		b.keptAt = b.total
	}
	if b.keptAt+int64(len(b.kept)) == b.total {
		if room := b.max - len(b.kept); room > 0 {
			b.kept = append(b.kept, p[:min(room, len(p))]...)
		}
	}
	b.total += int64(len(p))
}

// mark records that marker seq was read at the current end of the stream.
func (b *logBuffer) mark(seq uint64) {
	if seq > b.seen {
		b.seen = seq
	}
	b.marks[seq%uint64(len(b.marks))] = mark{seq: seq, off: b.total}
}

// offset is where marker seq was read, or the current end of the stream when
// it was never read or is too old to remember.
func (b *logBuffer) offset(seq uint64) int64 {
	if m := b.marks[seq%uint64(len(b.marks))]; m.seq == seq && seq != 0 {
		return m.off
	}
	return b.total
}

// cut ends the phase in progress at logical offset p and returns its kept
// output and how many of its bytes were dropped. Output after p stays for the
// next phase.
func (b *logBuffer) cut(p int64) (log []byte, truncated int64) {
	p = max(b.start, min(p, b.total))
	n := 0
	if len(b.kept) > 0 {
		n = int(max(0, min(p-b.keptAt, int64(len(b.kept)))))
	}
	if n > 0 {
		log = make([]byte, n)
		copy(log, b.kept)
	}
	truncated = p - b.start - int64(n)
	rest := len(b.kept) - n
	if rest > 0 {
		copy(b.kept, b.kept[n:])
	}
	b.kept = b.kept[:rest]
	if cap(b.kept) > 64<<10 && rest < cap(b.kept)/4 {
		// Do not hold a flood's buffer for the rest of the instance's life.
		b.kept = append([]byte(nil), b.kept...)
	}
	b.keptAt += int64(n)
	b.start = p
	return log, truncated
}
