// text-stats: counts, reading time and most frequent words of a text.
import * as reef from "@reefhq/as-pdk";
import { Value, Kind } from "@reefhq/as-pdk";

const STOPWORDS = [
  "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "he", "her", "his", "i", "in", "is",
  "it", "its", "not", "of", "on", "or", "she", "so", "that", "the", "their", "them", "then", "there", "they", "this", "to",
  "was", "we", "were", "what", "when", "which", "who", "will", "with", "you", "your",
];

function isWordUnit(c: i32): bool {
  if (c >= 0x30 && c <= 0x39) return true; // 0-9
  if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) return true; // A-Z a-z
  if (c == 0x27 || c == 0x2019) return true; // apostrophes inside words
  if (c < 0xc0) return false;
  if (c >= 0x2000 && c <= 0x2bff) return false; // punctuation, symbols, arrows, dingbats
  if (c >= 0xd800 && c <= 0xdfff) return false; // astral planes: mostly emoji
  if (c >= 0x3000 && c <= 0x303f) return false; // CJK punctuation
  if (c == 0xd7 || c == 0xf7) return false; // × ÷
  return true;
}

function isSpace(c: i32): bool {
  return c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d || c == 0x0b || c == 0x0c || c == 0xa0 || c == 0x3000 || (c >= 0x2000 && c <= 0x200a);
}

class Entry {
  constructor(public word: string, public count: i32) {}
}

function trimApostrophes(w: string): string {
  let s = 0, e = w.length;
  while (s < e && (w.charCodeAt(s) == 0x27 || w.charCodeAt(s) == 0x2019)) s++;
  while (e > s && (w.charCodeAt(e - 1) == 0x27 || w.charCodeAt(e - 1) == 0x2019)) e--;
  return w.substring(s, e);
}

export function analyze(): i32 {
  const inp = reef.inputJSON();
  if (!inp.ok) return reef.fail(inp.error!.message);
  const root = inp.value;
  const tv = root.get("text");
  if (tv === null || tv.kind != Kind.String) return reef.fail("\"text\" is required: the text to analyse");
  const text = tv.str;
  const top = <i32>root.getInt("top", 10);
  const wpm = root.getNumber("words_per_minute", 230);
  if (wpm <= 0) return reef.fail("\"words_per_minute\" must be positive");
  const skipStop = root.getBool("skip_stopwords", true);

  let chars = 0, nonSpace = 0, lines = text.length > 0 ? 1 : 0, sentences = 0, paragraphs = 0;
  let words = 0, letters = 0;
  let inPara = false, blankRun = 0, sentenceOpen = false;
  const counts = new Map<string, i32>();
  const order = new Array<string>();
  let start = -1;
  const n = text.length;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? <i32>text.charCodeAt(i) : 0x20;
    if (i < n) {
      // Count code points: a low surrogate continues a pair.
      if (!(c >= 0xdc00 && c <= 0xdfff)) {
        chars++;
        if (!isSpace(c)) nonSpace++;
      }
      if (c == 0x0a) {
        lines++;
        blankRun++;
        if (blankRun >= 2) inPara = false;
      } else if (!isSpace(c)) {
        blankRun = 0;
        if (!inPara) { paragraphs++; inPara = true; }
      }
    }
    if (i < n && isWordUnit(c)) {
      if (start < 0) start = i;
      continue;
    }
    if (start >= 0) {
      const w = trimApostrophes(text.substring(start, i)).toLowerCase();
      start = -1;
      if (w.length > 0) {
        words++;
        letters += w.length;
        sentenceOpen = true;
        if (counts.has(w)) counts.set(w, counts.get(w) + 1);
        else { counts.set(w, 1); order.push(w); }
      }
    }
    if ((c == 0x2e || c == 0x21 || c == 0x3f || c == 0x3002) && sentenceOpen) {
      sentences++;
      sentenceOpen = false;
    }
  }
  if (sentenceOpen) sentences++;
  // A text ending in a newline has no extra empty line.
  if (n > 0 && text.charCodeAt(n - 1) == 0x0a) lines--;

  const entries = new Array<Entry>();
  for (let i = 0; i < order.length; i++) {
    if (skipStop && STOPWORDS.includes(order[i])) continue;
    entries.push(new Entry(order[i], counts.get(order[i])));
  }
  entries.sort((a: Entry, b: Entry): i32 => {
    if (a.count != b.count) return b.count - a.count;
    return a.word < b.word ? -1 : a.word > b.word ? 1 : 0;
  });
  const topWords = Value.array();
  for (let i = 0; i < entries.length && i < top; i++) {
    topWords.push(Value.object().set("word", Value.string(entries[i].word)).set("count", Value.int(entries[i].count)));
  }
  const seconds = <i64>Math.ceil(<f64>words / wpm * 60);
  const minutes = <i64>Math.max(1, Math.round(<f64>seconds / 60));
  const avg = words > 0 ? Math.round(<f64>letters / <f64>words * 100) / 100 : 0;

  const out = Value.object()
    .set("characters", Value.int(chars))
    .set("characters_no_spaces", Value.int(nonSpace))
    .set("words", Value.int(words))
    .set("unique_words", Value.int(order.length))
    .set("lines", Value.int(lines))
    .set("sentences", Value.int(sentences))
    .set("paragraphs", Value.int(paragraphs))
    .set("average_word_length", Value.float(avg))
    .set("reading_time_seconds", Value.int(seconds))
    .set("reading_time", Value.string(words == 0 ? "0 min" : minutes.toString() + " min"))
    .set("top_words", topWords);
  reef.outputJSON(out);
  return 0;
}
