package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"lambdalab/store/storetest"
)

// BenchmarkClusterThroughput compares one serve on SQLite, one on
// PostgreSQL and two on one PostgreSQL database (requests spread over both,
// as a load balancer would) for a signed-in lesson page (a replica answers
// it itself), the account page (a replica forwards it) and a signed S3
// GetObject (forwarded). The sandbox is off: these are the web tier's
// costs. All serves share this machine's cores, so two replicas here show
// the cost of forwarding, not the capacity a second machine adds.
//
//	go test -run '^$' -bench ClusterThroughput -benchtime 3s .
func BenchmarkClusterThroughput(b *testing.B) {
	for _, setup := range []struct {
		name     string
		replicas int
		pg       bool
	}{{"sqlite-1", 1, false}, {"postgres-1", 1, true}, {"postgres-2", 2, true}} {
		b.Run(setup.name, func(b *testing.B) {
			data := b.TempDir()
			args := []string{"--data", data}
			if setup.pg {
				args = []string{"--database", storetest.PostgresURL(b)}
			}
			keys := userIn(b, "bench@example.com", "bench password 123", args...)
			var serves []*server
			for range setup.replicas {
				serves = append(serves, startServe(b, data, args...))
			}
			// One signed-in browser, its cookie good on every serve.
			jar, _ := cookiejar.New(nil)
			client := &http.Client{Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			resp, err := client.PostForm(serves[0].URL+"/login", url.Values{"email": {"bench@example.com"}, "password": {"bench password 123"}})
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			for _, s := range serves[1:] {
				u0, _ := url.Parse(serves[0].URL)
				u, _ := url.Parse(s.URL)
				jar.SetCookies(u, jar.Cookies(u0))
			}
			ctx := context.Background()
			if _, err := s3Client(serves[0].AWSURL, keys).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
				b.Fatal(err)
			}
			if _, err := s3Client(serves[0].AWSURL, keys).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("k"), Body: strings.NewReader("hello")}); err != nil {
				b.Fatal(err)
			}
			var s3s []*s3.Client
			for _, s := range serves {
				s3s = append(s3s, s3Client(s.AWSURL, keys))
			}

			page := func(path, want string) func(b *testing.B) {
				return func(b *testing.B) {
					var next atomic.Int64
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							s := serves[int(next.Add(1))%len(serves)]
							resp, err := client.Get(s.URL + path)
							if err != nil {
								b.Error(err)
								return
							}
							body, _ := io.ReadAll(resp.Body)
							resp.Body.Close()
							if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
								b.Errorf("GET %s on %s = %d", path, s.URL, resp.StatusCode)
								return
							}
						}
					})
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
				}
			}
			b.Run("lesson", page("/lessons/gb-seconds", `data-testid="signed-in-as"`))
			b.Run("account", page("/account", `data-testid="signed-in-as"`))
			b.Run("s3-get", func(b *testing.B) {
				var next atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						c := s3s[int(next.Add(1))%len(s3s)]
						out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String("k")})
						if err != nil {
							b.Error(err)
							return
						}
						io.Copy(io.Discard, out.Body)
						out.Body.Close()
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			})
		})
	}
}
