package sandbox

import "testing"

func TestXRayLine(t *testing.T) {
	tests := []struct{ header, seg, want string }{
		{"Root=1-5e34a614-10bd3a2bf1fb44f07bc535a1;Parent=07f5a1b22d1f6f85;Sampled=1", "53995c3f42cd8ad8",
			"XRAY TraceId: 1-5e34a614-10bd3a2bf1fb44f07bc535a1\tSegmentId: 53995c3f42cd8ad8\tSampled: true\n"},
		{"Sampled=1; Root=1-aaaaaaaa-bbbbbbbbbbbbbbbbbbbbbbbb ;Lineage=x:1", "0123456789abcdef",
			"XRAY TraceId: 1-aaaaaaaa-bbbbbbbbbbbbbbbbbbbbbbbb\tSegmentId: 0123456789abcdef\tSampled: true\n"},
	}
	for _, tt := range tests {
		if got := xrayLine(tt.header, tt.seg); got != tt.want {
			t.Errorf("xrayLine(%q, %q) = %q, want %q", tt.header, tt.seg, got, tt.want)
		}
	}
}
