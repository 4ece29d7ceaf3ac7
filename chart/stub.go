package chart

// Owned by the chart helper: replace these with the real drawings.

func (t Timeline) SVG() string    { return `<svg role="img"><title>` + t.Title + `</title></svg>` }
func (c TimeChart) SVG() string   { return `<svg role="img"><title>` + c.Title + `</title></svg>` }
func (p PowerTuning) SVG() string { return `<svg role="img"><title>` + p.Title + `</title></svg>` }
func (w Waterfall) SVG() string   { return `<svg role="img"><title>` + w.Title + `</title></svg>` }
