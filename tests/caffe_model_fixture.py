#!/usr/bin/python3
"""Writes .caffemodel fixtures for tests/caffe_model_test.cpp with protobuf's own encoder.

Usage: /usr/bin/python3 tests/caffe_model_fixture.py OUTPUT_DIR

The messages are the subset of Caffe's caffe.proto that a .caffemodel uses, built at run time
from FileDescriptorProtos (there is no protoc here), in three variants:
  caffe     as caffe.proto declares them: packed data, dim, double_data;
  unpacked  the same fields unpacked (as files from other encoders may hold them);
  noisy     the caffe messages plus fields i2v does not read, of every wire type (varint,
            64-bit, length-delimited, groups, 32-bit), numbered between and after the known ones.
It writes:
  new_style.caffemodel       NetParameter.layer (field 100): conv, ReLU, pooling, inner products
  legacy_v1.caffemodel       NetParameter.layers (field 2): enum types, num/channels/height/width
  unknown_fields.caffemodel  new_style's net from the noisy messages, in three concatenated parts
  double_data.caffemodel     blobs with double_data, packed and not
  expected.json              for each file: the net name and every layer's name, type, and blobs
                             (shape and float32 values) as Caffe would read them
The noisy file is read back with the plain caffe messages and must equal new_style's net.
Exit status 77 when google.protobuf is missing (the test then skips).
"""
import json
import os
import random
import struct
import sys

try:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
except ImportError as error:
    print(f"google.protobuf is not available ({error})", file=sys.stderr)
    sys.exit(77)

F = descriptor_pb2.FieldDescriptorProto


def field(name, number, kind, repeated=False, type_name=None, packed=None):
    f = F(name=name, number=number, type=kind,
          label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL)
    if type_name:
        f.type_name = type_name
    if packed is not None:
        f.options.packed = packed
    return f


def message(name, fields, nested=(), enums=()):
    m = descriptor_pb2.DescriptorProto(name=name)
    m.field.extend(fields)
    m.nested_type.extend(nested)
    m.enum_type.extend(enums)
    return m


def noise_fields(package, owner, first):
    """Fields i2v skips, one of each wire type, numbered from `first`: a group holding a group."""
    inner = message("Inner", [field("deep", 1, F.TYPE_FIXED64)])
    group = message("Extra", [field("note", 1, F.TYPE_STRING), field("count", 2, F.TYPE_INT64),
                              field("inner", 3, F.TYPE_GROUP, type_name=f".{package}.{owner}.Extra.Inner")],
                    nested=[inner])
    fields = [
        field("noise_varint", first, F.TYPE_INT64),            # wire type 0 (negative: 10 bytes)
        field("noise_sint", first + 1, F.TYPE_SINT64),         # wire type 0, zigzag
        field("noise_fixed64", first + 2, F.TYPE_FIXED64),     # wire type 1
        field("noise_double", first + 3, F.TYPE_DOUBLE),       # wire type 1
        field("noise_bytes", first + 4, F.TYPE_BYTES),         # wire type 2
        field("extra", first + 5, F.TYPE_GROUP, type_name=f".{package}.{owner}.Extra"),  # 3 and 4
        field("noise_fixed32", first + 6, F.TYPE_FIXED32),     # wire type 5
        field("noise_floats", first + 7, F.TYPE_FLOAT, repeated=True, packed=False),  # 5, repeated
    ]
    return fields, [group]


V1_TYPES = {"NONE": 0, "CONVOLUTION": 4, "DATA": 5, "INNER_PRODUCT": 14, "POOLING": 17, "RELU": 18,
            "SIGMOID": 19}


def caffe_messages(package, packed, noisy):
    """The caffe.proto subset as message classes of `package`."""
    t = lambda name: f".{package}.{name}"
    def with_noise(name, fields, first, nested=(), enums=()):
        if noisy:
            extra_fields, extra_nested = noise_fields(package, name, first)
            fields = fields + extra_fields
            nested = list(nested) + extra_nested
        return message(name, fields, nested, enums)

    blob_shape = with_noise("BlobShape", [field("dim", 1, F.TYPE_INT64, True, packed=packed)], 2)
    blob = with_noise("BlobProto", [
        field("num", 1, F.TYPE_INT32), field("channels", 2, F.TYPE_INT32),
        field("height", 3, F.TYPE_INT32), field("width", 4, F.TYPE_INT32),
        field("data", 5, F.TYPE_FLOAT, True, packed=packed),
        field("diff", 6, F.TYPE_FLOAT, True, packed=packed),
        field("shape", 7, F.TYPE_MESSAGE, type_name=t("BlobShape")),
        field("double_data", 8, F.TYPE_DOUBLE, True, packed=packed),
        field("double_diff", 9, F.TYPE_DOUBLE, True, packed=packed),
    ], 20)
    param_spec = message("ParamSpec", [field("name", 1, F.TYPE_STRING), field("lr_mult", 3, F.TYPE_FLOAT)])
    layer = with_noise("LayerParameter", [
        field("name", 1, F.TYPE_STRING), field("type", 2, F.TYPE_STRING),
        field("bottom", 3, F.TYPE_STRING, True), field("top", 4, F.TYPE_STRING, True),
        field("loss_weight", 5, F.TYPE_FLOAT, True),
        field("param", 6, F.TYPE_MESSAGE, True, type_name=t("ParamSpec")),
        field("blobs", 7, F.TYPE_MESSAGE, True, type_name=t("BlobProto")),
        field("phase", 10, F.TYPE_INT32),
    ], 200)
    layer_type = descriptor_pb2.EnumDescriptorProto(name="LayerType")
    for name, number in V1_TYPES.items():
        layer_type.value.add(name=name, number=number)
    v1_layer = message("V1LayerParameter", [
        field("bottom", 2, F.TYPE_STRING, True), field("top", 3, F.TYPE_STRING, True),
        field("name", 4, F.TYPE_STRING),
        field("type", 5, F.TYPE_ENUM, type_name=t("V1LayerParameter.LayerType")),
        field("blobs", 6, F.TYPE_MESSAGE, True, type_name=t("BlobProto")),
        field("blobs_lr", 7, F.TYPE_FLOAT, True, packed=packed),
    ], enums=[layer_type])
    net = with_noise("NetParameter", [
        field("name", 1, F.TYPE_STRING),
        field("layers", 2, F.TYPE_MESSAGE, True, type_name=t("V1LayerParameter")),
        field("input", 3, F.TYPE_STRING, True), field("input_dim", 4, F.TYPE_INT64, True),
        field("force_backward", 5, F.TYPE_BOOL),
        field("layer", 100, F.TYPE_MESSAGE, True, type_name=t("LayerParameter")),
    ], 101)
    proto = descriptor_pb2.FileDescriptorProto(name=f"{package}.proto", package=package, syntax="proto2")
    proto.message_type.extend([blob_shape, blob, param_spec, layer, v1_layer, net])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    factory = message_factory.MessageFactory(pool)
    return {m.name: factory.GetPrototype(pool.FindMessageTypeByName(f"{package}.{m.name}"))
            for m in proto.message_type}


CAFFE = caffe_messages("caffe", packed=True, noisy=False)
UNPACKED = caffe_messages("unpacked", packed=False, noisy=False)
NOISY = caffe_messages("noisy", packed=True, noisy=True)

rng = random.Random(20150101)


def float32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def random_values(count):
    """float32 values of either sign and varied magnitude (never constants)."""
    return [float32(rng.uniform(-1, 1) * 10 ** rng.randint(-4, 2)) for _ in range(count)]


def count_of(shape):
    n = 1
    for d in shape:
        n *= d
    return n


class Expected:
    """What Caffe would read: per layer, name, type, and blobs as (shape, float32 values)."""
    def __init__(self, name):
        self.name, self.layers = name, []

    def layer(self, name, kind, blobs=()):
        self.layers.append({"name": name, "type": kind,
                            "blobs": [{"shape": list(s), "data": list(v)} for s, v in blobs]})

    def json(self):
        return {"name": self.name, "layers": self.layers}


def new_style_layers():
    """(name, type, [(shape, values)]) of a small conv net, in order."""
    return [
        ("conv1", "Convolution", [((4, 3, 3, 3), random_values(108)), ((4,), random_values(4))]),
        ("relu1", "ReLU", []),
        ("pool1", "Pooling", []),
        ("fc6", "InnerProduct", [((50, 64), random_values(3200)), ((50,), random_values(50))]),
        ("fc7", "InnerProduct", [((5, 50), random_values(250))]),  # bias_term: false
        ("scale", "Scale", [((), random_values(1))]),             # a 0-axis blob: one value
        ("prob", "Sigmoid", []),
    ]


def fill_layer(layer, name, kind):
    """The fields of a layer besides its blobs (i2v skips all but name and type)."""
    layer.name, layer.type, layer.phase = name, kind, 1
    layer.bottom.append("data")
    layer.top.append(name)
    layer.loss_weight.append(0.5)
    layer.param.add(name=f"{name}_w", lr_mult=1.0)


def fill_blob(blob, shape, values):
    blob.shape.SetInParent()  # present even with no dims (a 0-axis blob)
    blob.shape.dim.extend(shape)
    blob.data.extend(values)


def add_noise(m, seed_text):
    """Sets every noise field of a noisy message, with values that vary by message."""
    m.noise_varint = -rng.randint(1, 1 << 40)
    m.noise_sint = -rng.randint(1, 1000)
    m.noise_fixed64 = rng.getrandbits(64)
    m.noise_double = rng.uniform(-1e300, 1e300)
    m.noise_bytes = (seed_text * 7).encode()
    m.extra.note = seed_text
    m.extra.count = rng.randint(-5, 5)
    m.extra.inner.deep = rng.getrandbits(64)
    m.noise_fixed32 = rng.getrandbits(32)
    m.noise_floats.extend(random_values(3))


def write(directory, file_name, data, expected, everything):
    with open(os.path.join(directory, file_name), "wb") as out:
        out.write(data)
    everything[file_name] = expected.json()


def check_reads_as(data, net):
    """Protobuf's own reader, skipping the noise and the gradients, must find `net` in `data`."""
    read_back = CAFFE["NetParameter"]()
    read_back.MergeFromString(data)
    read_back.DiscardUnknownFields()
    for layer in read_back.layer:
        for blob in layer.blobs:
            blob.ClearField("diff")
            blob.ClearField("double_diff")
    assert read_back == net, "the noisy net does not read back as the plain one"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    directory = sys.argv[1]
    os.makedirs(directory, exist_ok=True)
    everything = {}

    # ---- new style: LayerParameter, packed, BlobShape ----
    layers = new_style_layers()
    net = CAFFE["NetParameter"](name="tiny-i2v")
    expected = Expected("tiny-i2v")
    for name, kind, blobs in layers:
        layer = net.layer.add()
        fill_layer(layer, name, kind)
        for shape, values in blobs:
            fill_blob(layer.blobs.add(), shape, values)
        expected.layer(name, kind, blobs)
    write(directory, "new_style.caffemodel", net.SerializeToString(), expected, everything)

    # ---- the same net with unknown fields everywhere, in three concatenated parts ----
    # Protobuf concatenation merges: repeated `layer` fields append, the name is set again.
    parts = [NOISY["NetParameter"](name="tiny-i2v") for _ in range(3)]
    for part in parts:
        part.input.append("data")
        part.input_dim.extend([1, 3, 224, 224])
        part.force_backward = True
    add_noise(parts[1], "between the layers")
    for index, (name, kind, blobs) in enumerate(layers):
        part = parts[0] if index < 3 else parts[2]
        add_noise(part, f"net part before {name}")
        layer = part.layer.add()
        fill_layer(layer, name, kind)
        add_noise(layer, f"layer {name}")
        for shape, values in blobs:
            blob = layer.blobs.add()
            fill_blob(blob, shape, values)
            blob.diff.extend(random_values(len(values)))  # gradients: skipped
            blob.double_diff.extend([rng.uniform(-1, 1)])
            add_noise(blob, f"blob of {name}")
            add_noise(blob.shape, f"shape of {name}")
    noisy = b"".join(part.SerializeToString() for part in parts)
    net.input.extend(["data"] * 3)
    net.input_dim.extend([1, 3, 224, 224] * 3)
    net.force_backward = True
    check_reads_as(noisy, net)
    write(directory, "unknown_fields.caffemodel", noisy, expected, everything)

    # ---- legacy V1: V1LayerParameter, enum types, num/channels/height/width, unpacked ----
    v1 = [
        ("data", "DATA", "Data", []),
        ("conv1_1", "CONVOLUTION", "Convolution",
         [((8, 3, 3, 3), (8, 3, 3, 3)), ((1, 1, 1, 8), (1, 1, 1, 8))]),
        ("relu1_1", "RELU", "ReLU", []),
        ("pool1", "POOLING", "Pooling", []),
        ("encode1", "INNER_PRODUCT", "InnerProduct",
         [((1, 1, 6, 32), (1, 1, 6, 32)), ((1, 1, 1, 6), (1, 1, 1, 6))]),
        ("encode1neuron", "SIGMOID", "Sigmoid", []),
        ("unnamed_type", "NONE", "", []),
    ]
    net = UNPACKED["NetParameter"](name="legacy")
    expected = Expected("legacy")
    for name, enum, kind, blobs in v1:
        layer = net.layers.add(name=name, type=V1_TYPES[enum])
        layer.top.append(name)
        filled = []
        for legacy, shape in blobs:
            values = random_values(count_of(shape))
            blob = layer.blobs.add()
            blob.num, blob.channels, blob.height, blob.width = legacy
            blob.data.extend(values)
            filled.append((shape, values))
            layer.blobs_lr.append(1.0)
        expected.layer(name, kind, filled)
    write(directory, "legacy_v1.caffemodel", net.SerializeToString(), expected, everything)

    # ---- double_data, packed in one layer and unpacked in the next ----
    doubles = lambda n: [rng.uniform(-1, 1) * 10 ** rng.randint(-3, 3) for _ in range(n)]
    packed_net = CAFFE["NetParameter"](name="doubles")
    unpacked_net = UNPACKED["NetParameter"](name="doubles")
    expected = Expected("doubles")
    packed_weight, packed_bias = doubles(2 * 3 * 2 * 2), doubles(2)
    layer = packed_net.layer.add(name="conv_double", type="Convolution")
    for shape, values in [((2, 3, 2, 2), packed_weight), ((2,), packed_bias)]:
        blob = layer.blobs.add()
        blob.shape.dim.extend(shape)
        blob.double_data.extend(values)
    unpacked_weight = doubles(7 * 3)
    layer = unpacked_net.layer.add(name="fc_double", type="InnerProduct")
    blob = layer.blobs.add()
    blob.shape.dim.extend([7, 3])
    blob.double_data.extend(unpacked_weight)
    expected.layer("conv_double", "Convolution",
                   [((2, 3, 2, 2), [float32(v) for v in packed_weight]), ((2,), [float32(v) for v in packed_bias])])
    expected.layer("fc_double", "InnerProduct", [((7, 3), [float32(v) for v in unpacked_weight])])
    data = packed_net.SerializeToString() + unpacked_net.SerializeToString()
    write(directory, "double_data.caffemodel", data, expected, everything)

    with open(os.path.join(directory, "expected.json"), "w") as out:
        json.dump(everything, out)


if __name__ == "__main__":
    main()
