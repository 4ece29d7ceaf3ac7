package codepkg

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// tenMB is a 10 MB zip of 200 files of 50 KB that barely compress, about
// the shape of a Python package with its dependencies.
func tenMB(b *testing.B) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var ents []ent
	for i := range 200 {
		body := make([]byte, 50<<10)
		for j := range body {
			body[j] = byte(rng.Uint32())
		}
		ents = append(ents, file(fmt.Sprintf("lib/pkg%02d/mod%03d.py", i%20, i), string(body)))
	}
	return buildZip(b, ents...)
}

// BenchmarkPut10MB measures a first Put: check, extract, flush, rename.
func BenchmarkPut10MB(b *testing.B) {
	z := tenMB(b)
	s := newStore(b)
	s.grace = 0
	ctx := context.Background()
	b.SetBytes(int64(len(z)))
	b.ResetTimer()
	for range b.N {
		if _, err := s.Put(ctx, z, MaxUnzipped); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if n, err := s.Sweep(ctx, nil); err != nil || n != 1 {
			b.Fatalf("Sweep = %d, %v", n, err)
		}
		b.StartTimer()
	}
}

// BenchmarkPut10MBStored measures a Put of bytes already stored: hashing
// and a stat.
func BenchmarkPut10MBStored(b *testing.B) {
	z := tenMB(b)
	s := newStore(b)
	ctx := context.Background()
	if _, err := s.Put(ctx, z, MaxUnzipped); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(z)))
	b.ResetTimer()
	for range b.N {
		if _, err := s.Put(ctx, z, MaxUnzipped); err != nil {
			b.Fatal(err)
		}
	}
}
