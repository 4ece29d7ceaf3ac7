// Package labs loads the labs: folders of Markdown, YAML and code that say
// what a student builds and how the grader proves it (FORMAT.md is the
// author's guide). Load reads and validates every lab at once and reports
// each author mistake with its file and line, so that `lambdalab check` and
// author mode show them all together.
//
// It imports no other lambdalab package: the step kinds are Go code in
// package grader, handed to Load as Options.Kinds, and the loader only
// decodes and validates their arguments.
package labs
