// Loading a state dict into a module, with PyTorch's `load_state_dict(strict=)` semantics, except
// that a strict load checks everything before changing anything.

import TensorData

/// What a state-dict load found: names the model has but the file lacks, names the file has but
/// the model lacks, and names whose shapes differ. Empty lists mean a perfect match.
public struct StateDictLoadReport: Sendable, Equatable {
    /// Model parameters absent from the state dict (left unchanged).
    public var missing: [String] = []
    /// State-dict entries the model has no parameter for (ignored).
    public var unexpected: [String] = []
    /// Parameters whose stored shape differs from the model's (left unchanged).
    public var shapeMismatches: [ShapeMismatch] = []

    /// Whether every parameter was loaded and nothing was left over.
    public var isExactMatch: Bool { missing.isEmpty && unexpected.isEmpty && shapeMismatches.isEmpty }
}

extension Module {
    /// Copies values from `stateDict` into the parameters with the same names, converting any real
    /// dtype (float16, bfloat16, float64, integers…) to float32.
    ///
    /// With `strict` (the default) every parameter must be present with its shape and nothing else
    /// may be in the state dict; otherwise nothing is loaded and the error lists every problem.
    /// Without `strict`, matching entries are loaded and the report lists the rest.
    ///
    /// With a `prefix` (such as `"model."` for a Lightning checkpoint), only the entries whose names
    /// start with it are considered, with the prefix removed; the others are ignored (neither
    /// loaded nor reported as unexpected).
    ///
    /// Values are converted and every check is made before any parameter changes, so a load that
    /// throws leaves the module as it was. Frozen parameters are loaded too.
    ///
    /// - Throws: ``NNError/stateDictMismatch(missing:unexpected:shapeMismatches:)`` in strict mode;
    ///   ``NNError/unconvertibleTensor(name:dtype:)`` if a needed entry has a complex dtype (the
    ///   name as written in the state dict); ``NNError/unreflectableProperty(module:property:kind:)``
    ///   for a module whose parameters reflection cannot name (``Module/checkReflection()``).
    @discardableResult
    public func loadStateDict(_ stateDict: StateDict, strict: Bool = true, prefix: String = "") throws -> StateDictLoadReport {
        try checkReflection()
        let named = namedParameters()
        var report = StateDictLoadReport()
        var known = Set<ExactString>()  // names compare by their bytes
        var updates: [(Parameter, Tensor)] = []
        for (name, parameter) in named {
            known.insert(ExactString(name))
            guard let raw = stateDict[prefix + name] else {
                report.missing.append(name)
                continue
            }
            guard raw.shape.dimensions == parameter.shape else {
                report.shapeMismatches.append(ShapeMismatch(name: name, foundShape: raw.shape.dimensions, expectedShape: parameter.shape))
                continue
            }
            do {
                updates.append((parameter, try Tensor(raw)))
            } catch {
                throw NNError.unconvertibleTensor(name: prefix + name, dtype: raw.dtype)
            }
        }
        report.unexpected = stateDict.names.compactMap { entry in
            guard let name = entry.droppingBytePrefix(prefix) else { return nil }  // by bytes, as Python's startswith
            return known.contains(ExactString(name)) ? nil : name
        }
        if strict && !report.isExactMatch {
            throw NNError.stateDictMismatch(missing: report.missing, unexpected: report.unexpected, shapeMismatches: report.shapeMismatches)
        }
        for (parameter, value) in updates { parameter.value = value }
        return report
    }
}
