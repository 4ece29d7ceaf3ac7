// The lab workspace's code editor: CodeMirror 6 on top of a plain <textarea>.
//
// The page works without this file: the textarea is an ordinary form field.
// mount() hides it and puts an editor after it, copying every change back
// into the textarea so a plain form post still sends what the learner typed.
// Bundled by `make editor` into static/editor.js as window.LambdalabEditor.
//
// Extensions are picked one by one instead of taking basicSetup: no folding,
// no rectangular selection, no completion pop-up (10 KB gzipped, and it takes
// Enter away from a learner who only wanted a new line) — a Lambda handler is
// a short file, and every kilobyte here is downloaded by every learner.

import { EditorState, Compartment, Annotation } from "@codemirror/state";
import {
  EditorView,
  keymap,
  lineNumbers,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  drawSelection,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import {
  bracketMatching,
  indentOnInput,
  indentUnit,
  syntaxHighlighting,
  HighlightStyle,
} from "@codemirror/language";
import { search, searchKeymap, highlightSelectionMatches } from "@codemirror/search";
import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { tags as t } from "@lezer/highlight";
import { python } from "@codemirror/lang-python";
import { javascript } from "@codemirror/lang-javascript";
import { json } from "@codemirror/lang-json";

// The language a data-language value names, and the indent that language's
// own style guide uses (PEP 8's four spaces for Python).
function languageFor(name) {
  switch ((name || "").toLowerCase()) {
    case "python":
    case "py":
      return { support: python(), indent: "    " };
    case "javascript":
    case "js":
    case "mjs":
    case "node":
    case "nodejs":
      return { support: javascript(), indent: "  " };
    case "json":
      return { support: json(), indent: "  " };
    default:
      return { support: [], indent: "  " };
  }
}

// The site's colours come from app.css's custom properties, so the editor
// follows light and dark mode together with the rest of the page. Only the
// dark flag (which picks CodeMirror's own light or dark defaults for the
// bits not styled here, and which highlight style applies) must be switched
// from script.
function siteTheme(dark) {
  const mono = 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace';
  return EditorView.theme(
    {
      "&": {
        color: "var(--fg)",
        backgroundColor: "var(--code-bg)",
        border: "1px solid var(--line)",
        borderRadius: "var(--radius, 6px)",
        fontSize: "0.9rem",
        // Long files scroll inside the editor, not the page.
        maxHeight: "75vh",
      },
      "&.cm-focused": {
        outline: "3px solid var(--focus)",
        outlineOffset: "2px",
      },
      ".cm-scroller": {
        fontFamily: mono,
        lineHeight: "1.5",
        overflow: "auto",
      },
      ".cm-content": { caretColor: "var(--fg)", padding: "0.4rem 0" },
      // Both, so the gutter runs down the whole editor when the file is short.
      ".cm-content, .cm-gutter": { minHeight: "var(--lambdalab-editor-min-height, 18em)" },
      ".cm-cursor, .cm-dropCursor": { borderLeftColor: "var(--fg)", borderLeftWidth: "2px" },
      "&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, .cm-content ::selection":
        { backgroundColor: "color-mix(in srgb, var(--focus) 30%, transparent)" },
      ".cm-activeLine": { backgroundColor: "color-mix(in srgb, var(--fg) 5%, transparent)" },
      ".cm-gutters": {
        backgroundColor: "var(--panel)",
        color: "var(--muted)",
        borderRight: "1px solid var(--line)",
        borderRadius: "var(--radius, 6px) 0 0 var(--radius, 6px)",
      },
      ".cm-activeLineGutter": { backgroundColor: "color-mix(in srgb, var(--fg) 8%, transparent)", color: "var(--fg)" },
      "&.cm-focused .cm-matchingBracket": {
        backgroundColor: "color-mix(in srgb, var(--accent) 25%, transparent)",
        outline: "1px solid color-mix(in srgb, var(--accent) 60%, transparent)",
      },
      "&.cm-focused .cm-nonmatchingBracket": { backgroundColor: "color-mix(in srgb, var(--bad) 30%, transparent)" },
      ".cm-searchMatch": {
        backgroundColor: "color-mix(in srgb, var(--warn) 30%, transparent)",
        outline: "1px solid var(--warn)",
      },
      ".cm-searchMatch.cm-searchMatch-selected": { backgroundColor: "color-mix(in srgb, var(--accent) 35%, transparent)" },
      ".cm-selectionMatch": { backgroundColor: "color-mix(in srgb, var(--focus) 15%, transparent)" },
      ".cm-panels": { backgroundColor: "var(--panel)", color: "var(--fg)" },
      ".cm-panels.cm-panels-top": { borderBottom: "1px solid var(--line)" },
      ".cm-panels.cm-panels-bottom": { borderTop: "1px solid var(--line)" },
      ".cm-panel.cm-search": { fontFamily: "inherit", fontSize: "0.9rem", padding: "0.35rem 0.5rem" },
      ".cm-textfield": {
        backgroundColor: "var(--bg)",
        color: "var(--fg)",
        border: "1px solid var(--line)",
        borderRadius: "4px",
        padding: "0.15rem 0.35rem",
      },
      ".cm-button": {
        backgroundImage: "none",
        backgroundColor: "var(--panel)",
        color: "var(--fg)",
        border: "1px solid var(--line)",
        borderRadius: "4px",
        padding: "0.15rem 0.5rem",
      },
      ".cm-button:active": { backgroundImage: "none", backgroundColor: "var(--code-bg)" },
      ".cm-tooltip": {
        backgroundColor: "var(--panel)",
        color: "var(--fg)",
        border: "1px solid var(--line)",
        borderRadius: "4px",
      },
      ".cm-tooltip-autocomplete > ul": { fontFamily: mono },
      ".cm-tooltip-autocomplete > ul > li[aria-selected]": {
        backgroundColor: "var(--accent)",
        color: "var(--accent-fg, #fff)",
      },
      ".cm-specialChar": { color: "var(--bad)" },
    },
    { dark },
  );
}

// Token colours: GitHub's light and dark palettes, the ones the lessons'
// highlighted code blocks use (content.HighlightCSS), so a snippet looks the
// same in the lesson and in the editor. Each applies only under an editor
// theme of its kind.
const lightHighlight = HighlightStyle.define(
  [
    { tag: [t.keyword, t.controlKeyword, t.operatorKeyword, t.definitionKeyword, t.moduleKeyword], color: "#cf222e" },
    { tag: [t.string, t.special(t.string), t.regexp], color: "#0a3069" },
    { tag: [t.comment, t.lineComment, t.blockComment], color: "#57606a", fontStyle: "italic" },
    { tag: [t.number, t.bool, t.null, t.atom, t.constant(t.name)], color: "#0550ae" },
    { tag: [t.function(t.variableName), t.function(t.propertyName), t.definition(t.function(t.variableName))], color: "#6639ba" },
    { tag: [t.className, t.definition(t.className), t.typeName], color: "#953800" },
    { tag: [t.propertyName], color: "#0550ae" },
    { tag: [t.standard(t.variableName), t.self], color: "#6639ba" },
    { tag: [t.meta, t.annotation], color: "#0550ae" },
    { tag: [t.escape], color: "#0550ae" },
    { tag: t.invalid, color: "#82071e" },
  ],
  { themeType: "light" },
);

const darkHighlight = HighlightStyle.define(
  [
    { tag: [t.keyword, t.controlKeyword, t.operatorKeyword, t.definitionKeyword, t.moduleKeyword], color: "#ff7b72" },
    { tag: [t.string, t.special(t.string), t.regexp], color: "#a5d6ff" },
    { tag: [t.comment, t.lineComment, t.blockComment], color: "#8b949e", fontStyle: "italic" },
    { tag: [t.number, t.bool, t.null, t.atom, t.constant(t.name)], color: "#79c0ff" },
    { tag: [t.function(t.variableName), t.function(t.propertyName), t.definition(t.function(t.variableName))], color: "#d2a8ff" },
    { tag: [t.className, t.definition(t.className), t.typeName], color: "#f0883e" },
    { tag: [t.propertyName], color: "#79c0ff" },
    { tag: [t.standard(t.variableName), t.self], color: "#ffa657" },
    { tag: [t.meta, t.annotation], color: "#d2a8ff" },
    { tag: [t.escape], color: "#79c0ff" },
    { tag: t.invalid, color: "#ffa198" },
  ],
  { themeType: "dark" },
);

// A transaction from setValue: the page itself put the text there, so it is
// copied to the textarea but not reported as the learner's change.
const fromPage = Annotation.define();

const mounted = new WeakMap(); // textarea → handle, so mounting twice is harmless

// The accessible name of the textarea (its <label>s, or aria-label), for
// the editor's content element, which is what a screen reader lands on.
function labelOf(textarea) {
  const aria = textarea.getAttribute("aria-label");
  if (aria) return aria;
  const labels = Array.from(textarea.labels || []);
  return labels.map((l) => l.textContent.trim()).filter(Boolean).join(" ") || "Code editor";
}

/**
 * mount replaces textarea with a code editor and returns its handle.
 * options: language ("python", "javascript", "json"; anything else is plain
 * text), nonce (the page's CSP nonce for CodeMirror's <style> elements),
 * onChange(value) (called after every change the learner makes).
 */
function mount(textarea, options = {}) {
  if (mounted.has(textarea)) return mounted.get(textarea);
  const lang = languageFor(options.language);
  const themeSlot = new Compartment();
  const darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  const isDark = () => !!(darkQuery && darkQuery.matches);
  const readOnly = textarea.readOnly || textarea.disabled;
  const onChange = typeof options.onChange === "function" ? options.onChange : null;

  const extensions = [
    options.nonce ? EditorView.cspNonce.of(options.nonce) : [],
    lineNumbers(),
    highlightActiveLineGutter(),
    highlightSpecialChars(),
    history(),
    drawSelection(),
    EditorState.allowMultipleSelections.of(true),
    indentOnInput(),
    indentUnit.of(lang.indent),
    EditorState.tabSize.of(lang.indent.length),
    bracketMatching(),
    closeBrackets(),
    highlightActiveLine(),
    highlightSelectionMatches(),
    search({ top: true }),
    syntaxHighlighting(lightHighlight),
    syntaxHighlighting(darkHighlight),
    themeSlot.of(siteTheme(isDark())),
    lang.support,
    EditorState.readOnly.of(readOnly),
    EditorView.editable.of(!readOnly),
    EditorView.contentAttributes.of({ "aria-label": labelOf(textarea) }),
    keymap.of([
      ...closeBracketsKeymap,
      ...defaultKeymap,
      ...searchKeymap,
      ...historyKeymap,
      // Tab indents; Escape then Tab (CodeMirror's built-in tab-focus mode)
      // moves focus on, so keyboard users are never trapped.
      indentWithTab,
    ]),
    EditorView.updateListener.of((update) => {
      if (!update.docChanged) return;
      const value = update.state.doc.toString();
      textarea.value = value;
      const byPage = update.transactions.some((tr) => tr.annotation(fromPage));
      if (onChange && !byPage) onChange(value);
    }),
  ];

  const view = new EditorView({
    state: EditorState.create({ doc: textarea.value, extensions }),
  });
  // The least height follows the textarea's rows (at least 12 lines), so
  // the markup decides how tall the editor starts; set through CSSOM, which
  // the CSP allows (a style attribute in markup it would not).
  const rows = Math.max(textarea.rows || 0, 12);
  view.dom.style.setProperty("--lambdalab-editor-min-height", rows * 1.5 + "em");
  if (textarea.dataset.testid) view.dom.dataset.testid = textarea.dataset.testid + "-editor";
  textarea.after(view.dom);
  textarea.hidden = true;

  // A click on the textarea's <label> would go to the hidden textarea.
  const labels = Array.from(textarea.labels || []);
  const toEditor = (event) => {
    event.preventDefault();
    view.focus();
  };
  labels.forEach((l) => l.addEventListener("click", toEditor));

  const followScheme = () => view.dispatch({ effects: themeSlot.reconfigure(siteTheme(isDark())) });
  if (darkQuery) darkQuery.addEventListener("change", followScheme);

  const handle = {
    view,
    getValue: () => view.state.doc.toString(),
    setValue(value) {
      value = String(value);
      if (value === view.state.doc.toString()) return;
      view.dispatch({
        changes: { from: 0, to: view.state.doc.length, insert: value },
        annotations: [fromPage.of(true)],
      });
    },
    focus: () => view.focus(),
    destroy() {
      if (!mounted.has(textarea)) return;
      mounted.delete(textarea);
      if (darkQuery) darkQuery.removeEventListener("change", followScheme);
      labels.forEach((l) => l.removeEventListener("click", toEditor));
      textarea.value = view.state.doc.toString();
      view.destroy();
      view.dom.remove();
      textarea.hidden = false;
    },
  };
  mounted.set(textarea, handle);
  return handle;
}

// get returns the handle of the editor mounted on textarea, or null: for
// scripts and browser tests that need to read or set the text.
function get(textarea) {
  return mounted.get(textarea) || null;
}

window.LambdalabEditor = { mount, get };
