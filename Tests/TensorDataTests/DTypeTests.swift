import Testing
import TensorData

@Suite("DType table")
struct DTypeTests {
    // The safetensors 0.8.0 enum, in declaration order (docs/formats.md, "Writer layout"), with bits and torch names.
    static let reference: [(String, Int, String?)] = [
        ("BOOL", 8, "bool"), ("F4", 4, "float4_e2m1fn_x2"), ("F6_E2M3", 6, nil), ("F6_E3M2", 6, nil),
        ("U8", 8, "uint8"), ("I8", 8, "int8"), ("F8_E5M2", 8, "float8_e5m2"), ("F8_E4M3", 8, "float8_e4m3fn"),
        ("F8_E8M0", 8, "float8_e8m0fnu"), ("F8_E4M3FNUZ", 8, "float8_e4m3fnuz"), ("F8_E5M2FNUZ", 8, "float8_e5m2fnuz"),
        ("I16", 16, "int16"), ("U16", 16, "uint16"), ("F16", 16, "float16"), ("BF16", 16, "bfloat16"),
        ("I32", 32, "int32"), ("U32", 32, "uint32"), ("F32", 32, "float32"), ("C64", 64, "complex64"),
        ("F64", 64, "float64"), ("I64", 64, "int64"), ("U64", 64, "uint64"),
    ]

    @Test("every safetensors dtype, in reference order, with its bit width and torch name")
    func safetensorsTable() {
        #expect(DType.safetensorsCases.count == 22)
        for (rank, (name, bits, torch)) in Self.reference.enumerated() {
            let dtype = DType(safetensorsName: name)
            #expect(dtype != nil, "\(name) missing")
            #expect(dtype?.safetensorsRank == rank)
            #expect(dtype?.bitWidth == bits)
            #expect(dtype?.torchName == torch)
            if let torch { #expect(DType(torchName: torch) == dtype) }
        }
    }

    @Test("torch-only dtypes have no safetensors spelling")
    func torchOnly() {
        #expect(DType(safetensorsName: "C128") == nil)
        #expect(DType(torchName: "complex128") == .c128)
        #expect(DType.c128.bitWidth == 128 && DType.c32.bitWidth == 32)
        #expect(DType(safetensorsName: "i32") == nil, "spellings are exact and uppercase")
    }

    @Test("sub-byte dtypes follow the misaligned-slice rule")
    func subByteSizes() {
        #expect(DType.f4.byteCount(elementCount: 6) == 3)
        #expect(DType.f4.byteCount(elementCount: 3) == nil)
        #expect(DType.f6e2m3.byteCount(elementCount: 4) == 3)
        #expect(DType.f6e2m3.byteCount(elementCount: 2) == nil)
        #expect(DType.f32.byteCount(elementCount: Int.max / 2) == nil, "overflow is reported, not trapped")
    }

    @Test("the reference writer's dtype order is rank descending")
    func writerOrder() {
        let order = DType.safetensorsCases.sorted { ($0.safetensorsRank ?? 0) > ($1.safetensorsRank ?? 0) }.map(\.rawValue)
        #expect(order == ["U64", "I64", "F64", "C64", "F32", "U32", "I32", "BF16", "F16", "U16", "I16", "F8_E5M2FNUZ",
                          "F8_E4M3FNUZ", "F8_E8M0", "F8_E4M3", "F8_E5M2", "I8", "U8", "F6_E3M2", "F6_E2M3", "F4", "BOOL"])
    }
}

@Suite("Shapes, raw tensors and state dicts")
struct ValueTests {
    @Test func shapes() {
        #expect(Shape([]).elementCount == 1)
        #expect(Shape([2, 0, 5]).elementCount == 0)
        #expect(Shape([2, 3, 4]).contiguousStrides == [12, 4, 1])
        #expect(Shape([Int.max, 2]).checkedElementCount == nil)
    }

    @Test func rawTensorChecksByteCount() throws {
        #expect(throws: TensorDataError.byteCountMismatch(dtype: .f32, shape: [2], expected: 8, found: 7)) {
            try RawTensor(dtype: .f32, shape: [2], bytes: TensorBytes(copying: [UInt8](repeating: 0, count: 7)))
        }
        let tensor = try RawTensor(dtype: .i16, shape: [2], bytes: TensorBytes(copyingValuesOf: [Int16(1), -2]))
        #expect(tensor.bytes.array == [1, 0, 0xFE, 0xFF])
    }

    @Test func stateDictKeepsOrderAndRejectsDuplicates() throws {
        let t = try RawTensor(dtype: .u8, shape: [1], bytes: TensorBytes(copying: [7]))
        var dict = StateDict()
        try dict.append("b", t)
        try dict.append("a", t)
        #expect(dict.names == ["b", "a"])
        #expect(throws: TensorDataError.duplicateName("b")) { try dict.append("b", t) }
        #expect(dict.map(\.name) == ["b", "a"])
    }
}
