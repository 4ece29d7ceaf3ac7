package lambda

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"lambdalab/sandbox"
)

// ObjectStore is what Lambda needs of S3 to keep async on-failure records
// in a bucket (reference/lambda-behaviour.md §9.3). *s3.Service satisfies
// it; serve hands it over with SetObjectStore, since S3 is built on this
// service (it notifies functions) and so exists only after it.
type ObjectStore interface {
	// BucketExists reports whether account owns bucket.
	BucketExists(ctx context.Context, account, bucket string) (bool, error)
	// PutObject stores body under key as a PutObject by the account would:
	// quotas apply and the bucket's notifications fire.
	PutObject(ctx context.Context, account, bucket, key string, body []byte, contentType string) error
}

// SetObjectStore lets async on-failure records go to S3 buckets. Without
// one, an S3 destination is refused.
func (s *Service) SetObjectStore(o ObjectStore) { s.objects.Store(&o) }

func (s *Service) objectStore() ObjectStore {
	if o := s.objects.Load(); o != nil {
		return *o
	}
	return nil
}

const s3ARNPrefix = "arn:aws:s3:::"

var errNoObjectStore = errors.New("lambdalab has no S3 service to keep the record in")

// checkS3Destination accepts a bucket of the account as an on-failure
// destination; Lambda takes S3 for failures only.
func (s *Service) checkS3Destination(ctx context.Context, account, arn string, onFailure bool) error {
	bucket := strings.TrimPrefix(arn, s3ARNPrefix)
	if !onFailure {
		return invalid("The destination ARN %s is invalid: Lambda sends records to an S3 bucket only on failure (OnFailure).", arn)
	}
	o := s.objectStore()
	if o == nil {
		return invalid("S3 bucket destinations are not available in this lambdalab; use a function destination.")
	}
	if bucket == "" || strings.Contains(bucket, "/") {
		return invalid("The destination ARN %s is invalid.", arn)
	}
	ok, err := o.BucketExists(ctx, account, bucket)
	if err != nil {
		return fmt.Errorf("check destination bucket %s: %w", bucket, err)
	}
	if !ok {
		return invalid("The destination ARN %s is invalid: the bucket does not exist in this account.", arn)
	}
	return nil
}

// putRecordObject keeps a record in a bucket under the key Lambda uses.
func (s *Service) putRecordObject(ctx context.Context, account, function, arn string, at time.Time, body []byte) error {
	o := s.objectStore()
	if o == nil {
		return errNoObjectStore
	}
	return o.PutObject(ctx, account, strings.TrimPrefix(arn, s3ARNPrefix), recordKey(function, at, sandbox.NewRequestID()), body, "application/json")
}

// recordKey names an invocation record in an S3 destination as Lambda does:
// aws/lambda/async/<function-name>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<random
// UUID>, in UTC.
func recordKey(function string, at time.Time, uuid string) string {
	return "aws/lambda/async/" + function + "/" + at.UTC().Format("2006/01/02/2006-01-02T15.04.05") + "-" + uuid
}
