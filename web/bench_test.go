package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"lambdalab/content"
)

// benchSite serves the embedded course (the real lessons) with a signed-in
// student who has some progress, logging to io.Discard so the formatting
// cost of the request log is still paid.
func benchSite(b *testing.B) (*testSite, *http.Cookie, string) {
	b.Helper()
	course, err := content.Load(content.Embedded())
	if err != nil {
		b.Fatalf("load embedded course: %v", err)
	}
	site := newTestSite(b, func(c *Config) {
		c.Course = course
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	})
	cl := site.client()
	cl.signup("teacher@example.com", "password one")
	cl = site.client()
	cl.signup("student@example.com", "password two")
	slug := course.Lessons[0].Slug
	cl.post("/lessons/"+slug+"/complete", nil)
	u, _ := url.Parse(site.ts.URL)
	return site, cl.http.Jar.Cookies(u)[0], "/lessons/" + slug
}

// BenchmarkLessonPage is one signed-in lesson page, in process: session
// lookup, progress, view assembly and templ rendering.
func BenchmarkLessonPage(b *testing.B) {
	site, cookie, path := benchSite(b)
	h := site.srv.Routes()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", path, nil)
		req.AddCookie(cookie)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkServeLessonParallel is served lesson pages per second for a
// signed-in student over loopback HTTP, with concurrent clients; it reports
// req/s and the 99th percentile latency.
func BenchmarkServeLessonParallel(b *testing.B) {
	site, cookie, path := benchSite(b)
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := site.ts.URL + path
	var mu sync.Mutex
	var all []time.Duration
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			req, _ := http.NewRequest("GET", url, nil)
			req.AddCookie(cookie)
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mine = append(mine, time.Since(start))
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
		mu.Lock()
		all = append(all, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(len(all))/b.Elapsed().Seconds(), "req/s")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99_ms")
	}
}
