/**
 * A strict reader of Prometheus' text exposition format (version 0.0.4), for tests: every sample must belong to a
 * metric declared by `# TYPE` before it (histograms through their `_bucket`, `_sum` and `_count` series), label values
 * must be quoted with only the format's escapes, and values must be numbers. Anything else throws, naming the line.
 */

type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  types: Map<string, MetricType>;
  samples: Sample[];
  /** The value of the sample with exactly these labels (undefined when absent). */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** The sum over every sample of `name` whose labels include `labels`. */
  sum(name: string, labels?: Record<string, string>): number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"(,|$)/;

export function parseExposition(text: string): Exposition {
  const types = new Map<string, MetricType>();
  const samples: Sample[] = [];
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  text
    .slice(0, -1)
    .split('\n')
    .forEach((line, index) => {
      const where = `line ${index + 1} (${JSON.stringify(line)})`;
      if (line === '') return;
      if (line.startsWith('#')) {
        const parts = line.split(' ');
        if (parts[1] === 'TYPE') {
          const [, , name, type] = parts;
          if (!name || !NAME.test(name)) throw new Error(`${where}: bad metric name`);
          if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type ?? ''))
            throw new Error(`${where}: bad type`);
          if (types.has(name)) throw new Error(`${where}: ${name} declared twice`);
          types.set(name, type as MetricType);
        } else if (parts[1] !== 'HELP') throw new Error(`${where}: unknown comment`);
        return;
      }
      const match = SAMPLE.exec(line);
      if (!match) throw new Error(`${where}: not a sample`);
      const [, name, , labelText, rawValue] = match as unknown as [string, string, string, string | undefined, string];
      const labels: Record<string, string> = {};
      let rest = labelText ?? '';
      while (rest !== '') {
        const label = LABEL.exec(rest);
        if (!label) throw new Error(`${where}: bad labels`);
        labels[label[1]!] = label[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
        rest = rest.slice(label[0].length);
      }
      const value = rawValue === '+Inf' ? Infinity : rawValue === '-Inf' ? -Infinity : Number(rawValue);
      if (rawValue !== 'NaN' && Number.isNaN(value)) throw new Error(`${where}: bad value`);
      const family = familyOf(name, types);
      if (!family) throw new Error(`${where}: sample of an undeclared metric`);
      if (family.type === 'histogram' && family.suffix === '_bucket' && labels['le'] === undefined)
        throw new Error(`${where}: bucket without le`);
      samples.push({ name, labels, value });
    });
  const matches = (sample: Sample, labels: Record<string, string>) =>
    Object.entries(labels).every(([k, v]) => sample.labels[k] === v);
  return {
    types,
    samples,
    value(name, labels = {}) {
      return samples.find(
        (s) => s.name === name && Object.keys(s.labels).length === Object.keys(labels).length && matches(s, labels),
      )?.value;
    },
    sum(name, labels = {}) {
      return samples.filter((s) => s.name === name && matches(s, labels)).reduce((t, s) => t + s.value, 0);
    },
  };
}

function familyOf(name: string, types: Map<string, MetricType>): { type: MetricType; suffix: string } | null {
  const own = types.get(name);
  if (own) return { type: own, suffix: '' };
  for (const suffix of ['_bucket', '_sum', '_count', '_created']) {
    if (!name.endsWith(suffix)) continue;
    const type = types.get(name.slice(0, -suffix.length));
    if (type === 'histogram' || type === 'summary') return { type, suffix };
  }
  return null;
}
