-- S3 buckets and objects per account (cloud/s3). Filled in by the S3 work.
SELECT 1;
