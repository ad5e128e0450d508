/**
 * A small, deterministic ONNX graph writer over onnx-proto: nodes and initializers are kept in the order they are
 * added and encoded without timestamps, so the same calls always give the same bytes.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Opset 13: Clip and Pad take their bounds as inputs, Softmax works along one axis. */
const OPSET = 13;
/** IR version 7 goes with opset 13; onnxruntime-node 1.30 reads up to 11. */
const IR_VERSION = 7;

export type AttributeValue = number | number[] | string | { float: number };

type NodeProto = InstanceType<typeof onnx.NodeProto>;
type TensorProto = InstanceType<typeof onnx.TensorProto>;
type AttributeProto = InstanceType<typeof onnx.AttributeProto>;

/** Little-endian float32 bytes, independent of the host's byte order. */
function float32Bytes(values: ArrayLike<number>): Uint8Array {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return new Uint8Array(view.buffer);
}

function int64Bytes(values: readonly number[]): Uint8Array {
  const view = new DataView(new ArrayBuffer(values.length * 8));
  for (const [i, v] of values.entries()) view.setBigInt64(i * 8, BigInt(v), true);
  return new Uint8Array(view.buffer);
}

/** Integers become INT/INTS attributes; `{ float }` a FLOAT; number arrays INTS; strings STRING. */
function attribute(name: string, value: AttributeValue): AttributeProto {
  const { AttributeType } = onnx.AttributeProto;
  if (typeof value === 'string')
    return onnx.AttributeProto.create({ name, type: AttributeType.STRING, s: new TextEncoder().encode(value) });
  if (typeof value === 'number') return onnx.AttributeProto.create({ name, type: AttributeType.INT, i: value });
  if (Array.isArray(value)) return onnx.AttributeProto.create({ name, type: AttributeType.INTS, ints: value });
  return onnx.AttributeProto.create({ name, type: AttributeType.FLOAT, f: value.float });
}

function valueInfo(name: string, dims: ReadonlyArray<number | string>) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}

export class OnnxGraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly names = new Set<string>();

  /** Adds a float32 constant; returns its name. */
  addFloat(name: string, dims: readonly number[], values: ArrayLike<number>): string {
    const expected = dims.reduce((a, b) => a * b, 1);
    if (values.length !== expected) throw new Error(`initializer ${name}: ${values.length} values for shape [${dims}]`);
    this.claim(name);
    this.initializers.push(
      onnx.TensorProto.create({
        name,
        dims: [...dims],
        dataType: onnx.TensorProto.DataType.FLOAT,
        rawData: float32Bytes(values),
      }),
    );
    return name;
  }

  /** Adds an int64 constant (shapes, pads); returns its name. */
  addInt64(name: string, dims: readonly number[], values: readonly number[]): string {
    this.claim(name);
    this.initializers.push(
      onnx.TensorProto.create({
        name,
        dims: [...dims],
        dataType: onnx.TensorProto.DataType.INT64,
        rawData: int64Bytes(values),
      }),
    );
    return name;
  }

  /** Adds a node named after its (single) output; returns the output name. */
  addNode(
    opType: string,
    inputs: readonly string[],
    output: string,
    attributes: Record<string, AttributeValue> = {},
  ): string {
    this.claim(output);
    this.nodes.push(
      onnx.NodeProto.create({
        name: output,
        opType,
        input: [...inputs],
        output: [output],
        attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
      }),
    );
    return output;
  }

  /** Renames a node output (and every use of it), e.g. to give the graph output its public name. */
  renameTensor(from: string, to: string): void {
    this.claim(to);
    for (const node of this.nodes) {
      node.input = node.input.map((name) => (name === from ? to : name));
      if (node.output[0] === from) {
        node.output = [to];
        node.name = to;
      }
    }
  }

  /** Number of nodes per op type, in first-use order. */
  opCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const node of this.nodes) counts[node.opType] = (counts[node.opType] ?? 0) + 1;
    return counts;
  }

  /** Encodes the model with one float32 input and one float32 output. */
  encode(options: {
    graphName: string;
    input: { name: string; dims: ReadonlyArray<number | string> };
    output: { name: string; dims: ReadonlyArray<number | string> };
    producerName: string;
    producerVersion: string;
    docString: string;
    metadata: Record<string, string>;
  }): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: options.producerName,
      producerVersion: options.producerVersion,
      docString: options.docString,
      metadataProps: Object.entries(options.metadata).map(([key, value]) => ({ key, value })),
      graph: {
        name: options.graphName,
        input: [valueInfo(options.input.name, options.input.dims)],
        output: [valueInfo(options.output.name, options.output.dims)],
        initializer: this.initializers,
        node: this.nodes,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`ONNX name ${name} is used twice`);
    this.names.add(name);
  }
}
