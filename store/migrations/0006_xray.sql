-- X-Ray traces per account (cloud/xray). Filled in by the X-Ray work.
SELECT 1;
