/**
 * A small XML well-formedness check (enough for JUnit reports): one root element, tags nested and closed in
 * order, attributes quoted and unique, no bare `<` or `&` in text or attribute values, only the five predefined
 * entities or character references, no characters XML 1.0 forbids. Returns the element tree.
 */
export interface XmlElement { name: string; attrs: Record<string, string>; children: XmlElement[]; text: string }

const NAME = /^[A-Za-z_][\w.-]*$/;
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;

function decode(s: string, where: string): string {
  if (FORBIDDEN.test(s)) throw new Error(`${where}: a character XML forbids`);
  if (s.includes('<')) throw new Error(`${where}: bare <`);
  return s.replace(/&([^;]*);?/g, (m, ent: string) => {
    if (!m.endsWith(';')) throw new Error(`${where}: bare & (${m})`);
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (ent in named) return named[ent]!;
    const num = /^#(x[0-9a-fA-F]+|[0-9]+)$/.exec(ent);
    if (num === null) throw new Error(`${where}: unknown entity &${ent};`);
    const v = num[1]!;
    return String.fromCodePoint(v.startsWith('x') ? parseInt(v.slice(1), 16) : Number(v));
  });
}

export function parseXml(text: string): XmlElement {
  let s = text.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  while (s.length > 0) {
    const lt = s.indexOf('<');
    const chunk = lt === -1 ? s : s.slice(0, lt);
    if (chunk.trim() !== '') {
      const top = stack.at(-1);
      if (top === undefined) throw new Error('text outside the root element');
      top.text += decode(chunk, `text in <${top.name}>`);
    }
    if (lt === -1) break;
    s = s.slice(lt);
    const gt = s.indexOf('>');
    if (gt === -1) throw new Error('unterminated tag');
    const tag = s.slice(1, gt);
    s = s.slice(gt + 1);
    if (tag.startsWith('/')) {
      const open = stack.pop();
      if (open === undefined || open.name !== tag.slice(1).trim()) throw new Error(`</${tag.slice(1)}> closes <${open?.name ?? 'nothing'}>`);
      continue;
    }
    const selfClosing = tag.endsWith('/');
    const body = selfClosing ? tag.slice(0, -1) : tag;
    const m = /^([^\s/]+)\s*([\s\S]*)$/.exec(body);
    if (m === null || !NAME.test(m[1]!)) throw new Error(`bad tag <${tag}>`);
    const el: XmlElement = { name: m[1]!, attrs: {}, children: [], text: '' };
    let rest = m[2]!.trim();
    while (rest !== '') {
      const a = /^([A-Za-z_][\w.:-]*)="([^"]*)"\s*/.exec(rest);
      if (a === null) throw new Error(`bad attribute in <${el.name}>: ${rest.slice(0, 40)}`);
      if (a[1]! in el.attrs) throw new Error(`attribute ${a[1]} twice in <${el.name}>`);
      el.attrs[a[1]!] = decode(a[2]!, `attribute ${a[1]} of <${el.name}>`);
      rest = rest.slice(a[0].length);
    }
    const parent = stack.at(-1);
    if (parent !== undefined) parent.children.push(el);
    else if (root !== undefined) throw new Error('a second root element');
    else root = el;
    if (!selfClosing) stack.push(el);
  }
  if (stack.length > 0) throw new Error(`<${stack.at(-1)!.name}> is never closed`);
  if (root === undefined) throw new Error('no root element');
  return root;
}
