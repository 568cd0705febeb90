import TensorData
import Testing
@testable import TensorNN

/// Modules without registration code: parameters found from stored properties and named as PyTorch
/// names attributes.
@Suite("Modules found by reflection")
struct ReflectionTests {
    /// The reference network written as a newcomer writes it.
    final class Net: Module {
        let linear1 = Linear(inFeatures: 8, outFeatures: 6)
        let linear2 = Linear(inFeatures: 6, outFeatures: 4)
        let linear3 = Linear(inFeatures: 4, outFeatures: 2)
        let linear4 = Linear(inFeatures: 2, outFeatures: 1)
        let sigmoid = Sigmoid()
        func forward(_ x: Tensor) -> Tensor {
            sigmoid(linear4(sigmoid(linear3(sigmoid(linear2(sigmoid(linear1(x))))))))
        }
    }

    /// Every supported kind of property: a parameter, an optional parameter (set and unset), a
    /// nested module, an array of modules (nn.ModuleList), an array of parameters
    /// (nn.ParameterList), nested arrays, an optional module, plain values and a lazy module.
    final class Everything: Module {
        let scale = Parameter(Tensor([2] as [Float]))
        let shift: Parameter? = Parameter(Tensor([0] as [Float]))
        let unused: Parameter? = nil
        let name = "everything"
        let sizes = [1, 2, 3]
        let constants = Tensor.zeros([1000])
        let encoder = Sequential([Linear(inFeatures: 3, outFeatures: 2), ReLU()])
        let blocks = [Linear(inFeatures: 2, outFeatures: 2), Linear(inFeatures: 2, outFeatures: 2, bias: false)]
        let gains = [Parameter(Tensor([1] as [Float])), Parameter(Tensor([1] as [Float]))]
        let grid: [[Linear]] = [[Linear(inFeatures: 1, outFeatures: 1)]]
        var head: Linear? = Linear(inFeatures: 2, outFeatures: 1)
        var missing: Linear?
        let activation = Activation.relu
        lazy var late = Linear(inFeatures: 1, outFeatures: 1, bias: false)
        func forward(_ x: Tensor) -> Tensor { x }
    }

    /// A module whose superclass declares parameters: the superclass's come first, as its
    /// `__init__` runs first in PyTorch.
    class Base: Module {
        let stem = Linear(inFeatures: 2, outFeatures: 2)
        func forward(_ x: Tensor) -> Tensor { stem(x) }
    }

    final class Derived: Base {
        let top = Linear(inFeatures: 2, outFeatures: 1)
        override func forward(_ x: Tensor) -> Tensor { top(super.forward(x)) }
    }

    final class WithTuple: Module {
        let pair = (Linear(inFeatures: 1, outFeatures: 1), Linear(inFeatures: 1, outFeatures: 1))
        func forward(_ x: Tensor) -> Tensor { pair.1(pair.0(x)) }
    }

    final class WithDictionary: Module {
        let layers = ["a": Linear(inFeatures: 1, outFeatures: 1)]
        func forward(_ x: Tensor) -> Tensor { x }
    }

    struct Holder { let layer = Linear(inFeatures: 1, outFeatures: 1) }

    final class WithStruct: Module {
        let holder = Holder()
        let numbers: (Int, Float) = (1, 2)
        func forward(_ x: Tensor) -> Tensor { holder.layer(x) }
    }

    final class Outer: Module {
        let inner = WithDictionary()
        func forward(_ x: Tensor) -> Tensor { inner(x) }
    }

    @Test("stored Linear properties are named like PyTorch attributes, in declaration order")
    func referenceNetwork() {
        let model = Net()
        #expect(model.namedParameters().map(\.name) == [
            "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
            "linear3.weight", "linear3.bias", "linear4.weight", "linear4.bias",
        ])
        #expect(model.parameterCount == 54 + 28 + 10 + 3)
        #expect(model.parameters().count == 8)
        #expect(model.stateDict().names == model.namedParameters().map(\.name))
        #expect(model(Tensor.zeros([5, 8])).shape == [5, 1])
        // Fresh random values for each layer.
        #expect(model.linear2.weight.value != Net().linear2.weight.value)
        #expect(model.namedModules().map(\.name) == ["", "linear1", "linear2", "linear3", "linear4", "sigmoid"])
    }

    @Test("parameters, optionals, nested modules, arrays (ModuleList, ParameterList), lazy properties")
    func everyKind() {
        let model = Everything()
        _ = model.late
        #expect(model.namedParameters().map(\.name) == [
            "scale", "shift",
            "encoder.0.weight", "encoder.0.bias",
            "blocks.0.weight", "blocks.0.bias", "blocks.1.weight",
            "gains.0", "gains.1",
            "grid.0.0.weight", "grid.0.0.bias",
            "head.weight", "head.bias",
            "late.weight",
        ])
        model.head = nil
        #expect(!model.namedParameters().map(\.name).contains("head.weight"))
        #expect(throws: Never.self) { try model.checkReflection() }
    }

    @Test("superclass properties come first")
    func inheritance() {
        #expect(Derived().namedParameters().map(\.name) == ["stem.weight", "stem.bias", "top.weight", "top.bias"])
    }

    @Test("a state dict saved from a reflected module loads into a fresh one")
    func stateDictRoundTrip() throws {
        let source = Net(), target = Net()
        try target.loadStateDict(source.stateDict())
        #expect(target.stateDict() == source.stateDict())
        let x = Tensor.ones([2, 8])
        #expect(target(x) == source(x))
    }

    @Test("a tuple, a dictionary or a struct holding modules is an error naming the property", arguments: [
        ("tuple", "WithTuple.pair holds modules or parameters inside a tuple"),
        ("dictionary", "WithDictionary.layers holds modules or parameters inside a dictionary"),
        ("struct", "WithStruct.holder holds modules or parameters inside a struct"),
        ("nested", "WithDictionary.layers holds modules or parameters inside a dictionary"),
    ])
    func unreflectable(kind: String, message: String) throws {
        let model: any Module = switch kind {
        case "tuple": WithTuple()
        case "dictionary": WithDictionary()
        case "struct": WithStruct()
        default: Outer()
        }
        let error = try #require(throws: NNError.self) { try model.checkReflection() }
        #expect(error.description == message + ", which cannot be named as PyTorch names attributes "
            + "(store them in separate properties or an array, or implement children and ownParameters)")
    }

    @Test("loading a state dict into an unreflectable module throws the fault and changes nothing")
    func unreflectableLoadThrows() throws {
        let model = WithTuple()
        let before = model.pair.0.weight.value
        let weights = Net().stateDict()
        let error = try #require(throws: NNError.self) { try model.loadStateDict(weights, strict: false) }
        guard case .unreflectableProperty(let module, let property, let kind) = error else {
            Issue.record("unexpected error \(error)")
            return
        }
        #expect(module == "WithTuple" && property == "pair" && kind == "a tuple")
        #expect(model.pair.0.weight.value == before)
    }

    @Test("an unreflectable module traps at first use instead of having no parameters")
    func unreflectableTraps() async {
        await #expect(processExitsWith: .failure) {
            final class Pairs: Module {
                let pair = (Linear(inFeatures: 1, outFeatures: 1), Linear(inFeatures: 1, outFeatures: 1))
                func forward(_ x: Tensor) -> Tensor { x }
            }
            _ = Pairs().parameters()
        }
    }

    @Test("explicit children and ownParameters still take precedence over reflection")
    func explicitMembers() {
        final class Renamed: Module {
            let hidden = Linear(inFeatures: 2, outFeatures: 2)
            let pair = (1, 2)
            var children: [(name: String, module: any Module)] { [("fc", hidden)] }
            var ownParameters: [(name: String, parameter: Parameter)] { [] }
            func forward(_ x: Tensor) -> Tensor { hidden(x) }
        }
        #expect(Renamed().namedParameters().map(\.name) == ["fc.weight", "fc.bias"])
    }

    @Test("a module referring to itself is visited once")
    func cycle() {
        final class Looped: Module {
            let layer = Linear(inFeatures: 1, outFeatures: 1)
            weak var myself: Looped?
            func forward(_ x: Tensor) -> Tensor { layer(x) }
        }
        let model = Looped()
        model.myself = model
        #expect(model.namedParameters().map(\.name) == ["layer.weight", "layer.bias"])
        #expect(model.namedModules().count == 2)
    }

    @Test("the contract's optimizer spellings: SGD, Adam and AdamW over model.parameters()")
    func optimizerSpellings() {
        let model = Net()
        let sgd = SGD(model.parameters(), lr: 0.01, momentum: 0)
        #expect(sgd.learningRate == 0.01 && sgd.momentum == 0 && sgd.parameters.count == 8)
        let adam = Adam(model.parameters(), lr: 1e-3)
        #expect(adam.learningRate == 1e-3 && adam.weightDecay == 0 && !adam.decoupledWeightDecay)
        let adamW = AdamW(model.parameters(), lr: 1e-3)
        #expect(adamW.weightDecay == 0.01 && adamW.decoupledWeightDecay)
        let loss = BCEWithLogitsLoss()(Tensor([[0.5]]), Tensor([[1]]))
        #expect(abs(loss.item() - 0.474_076_9) < 1e-6)
    }

    @Test("loading with a prefix keeps matching entries and ignores the rest")
    func prefixedLoad() throws {
        let source = Net(), target = Net()
        var prefixed = StateDict()
        for (name, tensor) in source.stateDict() { try prefixed.append("model." + name, tensor) }
        try prefixed.append("optimizer.lr", Tensor([1] as [Float]).rawTensor())
        let report = try target.loadStateDict(prefixed, prefix: "model.")
        #expect(report.isExactMatch)
        #expect(target.stateDict() == source.stateDict())
        let error = try #require(throws: NNError.self) { try target.loadStateDict(prefixed, prefix: "mod") }
        #expect(error.description.hasPrefix("state dict does not match the model: missing linear1.weight"))
    }
}
