package chart

import (
	"fmt"
	"time"
)

// drawing is what every chart type offers.
type drawing interface {
	SVG() string
	Summary() string
}

// base is a Saturday afternoon in March, in UTC as the server stores it.
var base = time.Date(2026, 3, 14, 14, 3, 0, 0, time.UTC)

func at(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }

func sp(startMS, durMS int, label, class string) Span {
	return Span{Start: at(startMS), End: at(startMS + durMS), Label: label, Class: class}
}

const hostile = `<b>&amp; "quoted" 'single' </svg><script>alert(1)</script>`

// coldStarts is the concurrency lab in small: reserved 2, a burst that
// starts a second environment, throttles, a timeout and an out-of-memory
// failure, one environment reclaimed, one provisioned.
func coldStarts() Timeline {
	a := InstanceRow{ID: "3f9a1c2e7b6d4a01", Init: &Span{Start: at(1000), End: at(1412), Label: "init"}}
	for i := 0; i < 6; i++ {
		class := ""
		if i == 3 {
			class = "timeout"
		}
		a.Invocations = append(a.Invocations, sp(1412+i*4000, 300+i*100, fmt.Sprintf("req-a%d", i), class))
	}
	b := InstanceRow{ID: "b77e02d19c3f5e88", Init: &Span{Start: at(5100), End: at(5480)},
		Reclaimed: at(40000)}
	for i := 0; i < 4; i++ {
		class := ""
		if i == 2 {
			class = "oom"
		}
		b.Invocations = append(b.Invocations, sp(5480+i*3000, 450, fmt.Sprintf("req-b%d", i), class))
	}
	c := InstanceRow{ID: "c0ffee00deadbeef", Provisioned: true}
	for i := 0; i < 4; i++ {
		c.Invocations = append(c.Invocations, sp(20000+i*5000, 120, fmt.Sprintf("req-c%d", i), ""))
	}
	return Timeline{
		Title: "checkout: environments", From: base, To: base.Add(time.Minute),
		Instances: []InstanceRow{a, b, c},
		Throttles: []time.Time{at(5600), at(5610)},
		Reserved:  2,
	}
}

func hundred() Timeline {
	t := Timeline{From: base, To: base.Add(20 * time.Second), Reserved: 100}
	for i := 0; i < 100; i++ {
		start := 200 + i*37
		in := InstanceRow{ID: fmt.Sprintf("%016x", uint64(i+1)*0x9e3779b97f4a7c15),
			Init: &Span{Start: at(start), End: at(start + 300 + i%7*20)}}
		s := start + 300 + i%7*20
		for k := 0; k < 3; k++ {
			in.Invocations = append(in.Invocations, sp(s, 900, "", ""))
			s += 900 + 2000 + i*13
		}
		if i%9 == 0 {
			in.Reclaimed = at(s + 1000)
		}
		t.Instances = append(t.Instances, in)
	}
	for i := 0; i < 300; i++ {
		t.Throttles = append(t.Throttles, at(4000+i*3))
	}
	t.Throttles = append(t.Throttles, at(15000), at(17500))
	return t
}

// concurrencyLab is the concurrency lab's batch: 20 orders at once against
// checkout with reserved concurrency 5; 5 environments start cold, the
// rest of the orders are throttled and retried with backoff; the window is
// left to the data.
func concurrencyLab() Timeline {
	t := Timeline{Title: "Instances of checkout", Reserved: 5}
	for e := 0; e < 5; e++ {
		in := InstanceRow{ID: fmt.Sprintf("%016x", uint64(e+7)*0x51ed2701f3a5c9b1)}
		initMS := 380 + e*9
		in.Init = &Span{Start: at(e * 3), End: at(e*3 + initMS)}
		s := e*3 + initMS
		for k := 0; k < 4; k++ {
			in.Invocations = append(in.Invocations, sp(s, 300+k*4, fmt.Sprintf("order %d", e*4+k+1), ""))
			s += 300 + k*4 + 20 + e*37
		}
		t.Instances = append(t.Instances, in)
	}
	for i := 0; i < 15; i++ {
		t.Throttles = append(t.Throttles, at(16+i))
	}
	for i := 0; i < 27; i++ {
		t.Throttles = append(t.Throttles, at(300+i*55+(i*i)%40))
	}
	return t
}

func timelines() map[string]drawing {
	long := Timeline{
		// Three 15-minute invocations over six hours, across midnight.
		From: time.Date(2026, 3, 14, 21, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 15, 3, 0, 0, 0, time.UTC),
		Reserved: -1,
		Instances: []InstanceRow{{
			ID:   "aaaaaaaa11111111",
			Init: &Span{Start: time.Date(2026, 3, 14, 21, 30, 0, 0, time.UTC), End: time.Date(2026, 3, 14, 21, 30, 9, 0, time.UTC)},
			Invocations: []Span{
				{Start: time.Date(2026, 3, 14, 21, 30, 9, 0, time.UTC), End: time.Date(2026, 3, 14, 21, 45, 9, 0, time.UTC), Class: "timeout"},
				{Start: time.Date(2026, 3, 14, 23, 50, 0, 0, time.UTC), End: time.Date(2026, 3, 15, 0, 5, 0, 0, time.UTC)},
				{Start: time.Date(2026, 3, 15, 2, 0, 0, 0, time.UTC)}, // still running
			},
		}},
	}
	sub := Timeline{
		Reserved: -1,
		Instances: []InstanceRow{{
			ID:          "1234",
			Init:        &Span{Start: at(10), End: at(95)},
			Invocations: []Span{sp(95, 40, "", ""), sp(160, 3, "", "error"), sp(200, 60, "", "")},
		}},
	}
	return map[string]drawing{
		"timeline-cold-starts": coldStarts(),
		"timeline-concurrency": concurrencyLab(),
		"timeline-empty":       Timeline{From: base, To: base.Add(time.Minute), Reserved: -1},
		"timeline-one":         Timeline{Reserved: -1, Instances: []InstanceRow{{ID: "p1", Provisioned: true, Invocations: []Span{sp(0, 120, "", "")}}}},
		"timeline-100":         hundred(),
		"timeline-long":        long,
		"timeline-subsecond":   sub,
		"timeline-zero":        Timeline{From: base, To: base.Add(10 * time.Second), Reserved: 0, Throttles: []time.Time{at(1000), at(4000), at(4001)}},
		"timeline-hostile": Timeline{
			Title: hostile, Reserved: 1, From: base, To: base.Add(10 * time.Second),
			Instances: []InstanceRow{{
				ID:          hostile,
				Init:        &Span{Start: at(100), End: at(600), Label: hostile},
				Invocations: []Span{sp(600, 2000, hostile+"\x00\x1b\xff", "weird<\"class\">")},
			}},
		},
	}
}

func perMinute(vals ...float64) []Point {
	var ps []Point
	for i, v := range vals {
		ps = append(ps, Point{T: base.Add(time.Duration(i) * time.Minute), V: v})
	}
	return ps
}

func timeCharts() map[string]drawing {
	to := base.Add(10 * time.Minute)
	return map[string]drawing{
		"time-bars": TimeChart{
			Title: "Invocations, errors and throttles per minute", Kind: "bars", From: base, To: to, Bucket: time.Minute,
			Series: []Series{
				{Name: "Invocations", Class: "invocations", Points: perMinute(3, 12, 40, 38, 7, 0, 0, 1, 22, 9)},
				{Name: "Errors", Class: "errors", Points: perMinute(0, 1, 4, 0, 0, 0, 0, 0, 2, 0)},
				{Name: "Throttles", Class: "throttles", Points: perMinute(0, 0, 15, 9, 0, 0, 0, 0, 0, 0)},
			},
		},
		"time-duration": TimeChart{
			Title: "Duration", Unit: "ms", From: base, To: to, Bucket: time.Minute,
			Series: []Series{
				{Name: "Average", Class: "duration", Points: perMinute(310, 295, 880, 1203.7, 301, 299)},
				{Name: "Maximum", Class: "duration", Points: perMinute(900000, 310, 4020, 1800, 330, 320)},
			},
		},
		"time-concurrency": TimeChart{
			Title: "Concurrent executions", Kind: "step", From: base, To: to, Bucket: time.Minute,
			Series:     []Series{{Name: "Concurrent executions", Class: "concurrency", Points: perMinute(1, 3, 5, 5, 2, 0, 0, 1, 4, 1)}},
			Limit:      5,
			LimitLabel: "reserved concurrency 5",
		},
		"time-account-limit": TimeChart{
			Title: "Concurrent executions", Kind: "step", From: base, To: to,
			Series:     []Series{{Name: "Concurrent executions", Class: "concurrency", Points: perMinute(1, 2, 3)}},
			Limit:      10,
			LimitLabel: "account limit 10",
		},
		"time-empty":     TimeChart{Title: "Invocations", Kind: "bars", From: base, To: to, Series: []Series{{Name: "Invocations", Class: "invocations"}}},
		"time-one-point": TimeChart{Title: "Duration", Unit: "ms", Series: []Series{{Name: "Duration", Class: "duration", Points: []Point{{T: base, V: 412.37}}}}},
		"time-hostile": TimeChart{
			Title: hostile, Unit: "<u>", Kind: "bars", From: base, To: base.Add(3 * time.Minute), Bucket: time.Minute,
			Series:     []Series{{Name: hostile, Class: `x" onload="alert(1)`, Points: perMinute(1, 2, 3)}, {Name: "b&b", Class: "errors", Points: perMinute(0, 1, 0)}},
			Limit:      2.5,
			LimitLabel: hostile,
		},
	}
}

func sixSizes() PowerTuning {
	return PowerTuning{Title: "Power tuning: resize", Points: []PowerPoint{
		{MemoryMB: 128, DurationMS: 3000, Failed: true, Reason: "timeout"},
		{MemoryMB: 256, DurationMS: 1620, CostUSD: 0.0000069},
		{MemoryMB: 512, DurationMS: 790, CostUSD: 0.0000067},
		{MemoryMB: 1024, DurationMS: 402, CostUSD: 0.0000068},
		{MemoryMB: 1769, DurationMS: 236, CostUSD: 0.0000070},
		{MemoryMB: 3008, DurationMS: 231, CostUSD: 0.0000116},
	}}
}

func powers() map[string]drawing {
	return map[string]drawing{
		"power-six":   sixSizes(),
		"power-one":   PowerTuning{Points: []PowerPoint{{MemoryMB: 128, DurationMS: 12.4, CostUSD: 0.0000021}}},
		"power-empty": PowerTuning{},
		"power-all-failed": PowerTuning{Points: []PowerPoint{
			{MemoryMB: 128, Failed: true, Reason: "out of memory"}, {MemoryMB: 256, Failed: true, Reason: "out of memory"},
		}},
	}
}

// xrayLab is the trace of the X-Ray lab's log summary, as the lesson draws it.
func xrayLab() Waterfall {
	ms := func(n int) time.Time { return at(n) }
	return Waterfall{
		Title: "Trace 1-67f3a2b1-4c2d9e8f0a1b2c3d4e5f6a7b",
		Segments: []Segment{
			{Name: "log-summary", Origin: "AWS::Lambda", Start: ms(0), End: ms(1843)},
			{Name: "log-summary", Origin: "AWS::Lambda::Function", Start: ms(12), End: ms(1840)},
			{Name: "Initialization", Depth: 1, Start: ms(12), End: ms(424)},
			{Name: "Invocation", Depth: 1, Start: ms(428), End: ms(1838)},
			{Name: "summarise", Depth: 2, Start: ms(432), End: ms(1830), Annotations: []string{"orders=2"}},
			{Name: "S3 GetObject", Depth: 3, Start: ms(436), End: ms(1521)},
			{Name: "S3 PutObject", Depth: 3, Start: ms(1560), End: ms(1772), Fault: true},
		},
	}
}

func waterfalls() map[string]drawing {
	return map[string]drawing{
		"waterfall-xray": xrayLab(),
		"waterfall-errors": Waterfall{
			Start: base,
			Segments: []Segment{
				{Name: "place-orders", Origin: "AWS::Lambda::Function", Start: at(0), End: at(2400), Error: true},
				{Name: "Lambda Invoke checkout", Depth: 1, Start: at(10), End: at(14), Error: true, Throttle: true,
					Annotations: []string{"order=7", "attempt=3"}},
				{Name: "DynamoDB PutItem", Depth: 1, Start: at(20), End: at(2390), Fault: true, Annotations: []string{"table=orders"}},
				{Name: "a very long subsegment name that will not fit in the label column at all", Depth: 9, Start: at(2000), End: at(2390)},
				{Name: hostile, Depth: 1, Start: at(2390), Annotations: []string{hostile + "=" + hostile}}, // in progress
			},
		},
		"waterfall-empty": Waterfall{},
		"waterfall-long": Waterfall{Segments: []Segment{
			{Name: "batch", Origin: "AWS::Lambda::Function", Start: base, End: base.Add(15 * time.Minute)},
			{Name: "S3 ListObjectsV2", Depth: 1, Start: base.Add(time.Second), End: base.Add(1200 * time.Millisecond)},
			{Name: "work", Depth: 1, Start: base.Add(2 * time.Second), End: base.Add(15*time.Minute - time.Second), Fault: true},
		}},
	}
}

func allDrawings() map[string]drawing {
	all := map[string]drawing{}
	for _, m := range []map[string]drawing{timelines(), timeCharts(), powers(), waterfalls()} {
		for k, v := range m {
			all[k] = v
		}
	}
	return all
}
