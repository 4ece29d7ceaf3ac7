-- Lambda's recursive loop detection setting per function
-- (PutFunctionRecursionConfig): 'Terminate', Lambda's default, stops a
-- chain of invocations that keeps triggering the same function; 'Allow'
-- lets it run. It belongs to the function, all versions, and goes with it.

ALTER TABLE lambda_functions ADD COLUMN recursive_loop TEXT NOT NULL DEFAULT 'Terminate'
    CHECK (recursive_loop IN ('Terminate', 'Allow'));
