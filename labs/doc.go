// Package labs loads the labs: folders of Markdown, YAML and code that say
// what a student builds and how the grader proves it (FORMAT.md is the
// author's guide). Load reads and validates every lab at once and reports
// each author mistake with its file and line, so that `lambdalab check` and
// author mode show them all together.
//
// It imports no other lambdalab package: the step kinds are Go code in
// package grader, handed to Load as Options.Kinds, and the loader only
// decodes and validates their arguments.
//
// A step's arguments are decoded strictly into the struct its kind's Args
// returns. Keys follow yaml.v3's rules (the yaml tag, else the field's name
// in lower case; `,inline` and embedded structs lend their fields to the
// parent), and a key no field claims is reported at its line. A lab tag
// applies to the strings of its field: the field itself, the elements of a
// slice, the values of a map. Every string of a step may hold ${…} values;
// the loader checks their form and the names they mention, and the grader
// substitutes them with Expand.
package labs
