import Testing
@testable import TensorNN

@Suite("Datasets and batching")
struct DataLoaderTests {
    let dataset = TensorDataset(inputs: Tensor.arange(10).reshaped([10, 1]), targets: Tensor.arange(10) * 2)

    func epoch(_ loader: DataLoader<TensorDataset>) -> [[Float]] {
        loader.map { $0.inputs.scalars }
    }

    @Test("batches in order, with a smaller last batch unless dropped")
    func ordered() {
        let loader = DataLoader(dataset, batchSize: 4)
        #expect(loader.batchCount == 3)
        #expect(epoch(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
        let batch = dataset.batch(at: [3, 1])
        #expect(batch.inputs.shape == [2, 1] && batch.targets.scalars == [6, 2])
        let dropping = DataLoader(dataset, batchSize: 4, dropLast: true)
        #expect(dropping.batchCount == 2 && epoch(dropping).count == 2)
    }

    @Test("shuffling visits every example once per epoch, in a new order each epoch, fixed by the seed")
    func shuffled() {
        let loader = DataLoader(dataset, batchSize: 3, shuffle: true, generator: SplitMix64(seed: 7))
        let first = epoch(loader).flatMap { $0 }, second = epoch(loader).flatMap { $0 }
        #expect(first.sorted() == (0..<10).map(Float.init) && second.sorted() == first.sorted())
        #expect(first != second)
        let again = DataLoader(dataset, batchSize: 3, shuffle: true, generator: SplitMix64(seed: 7))
        #expect(epoch(again).flatMap { $0 } == first)
        // Targets stay with their inputs.
        for batch in loader { #expect((batch.inputs.flattened() * 2).scalars == batch.targets.scalars) }
    }

    @Test("a random split holds out the requested fraction, disjointly")
    func split() {
        var generator = SplitMix64(seed: 3)
        let (train, validation) = dataset.split(holdingOut: 0.3, using: &generator)
        #expect(train.count == 7 && validation.count == 3)
        #expect((train.inputs.scalars + validation.inputs.scalars).sorted() == (0..<10).map(Float.init))
    }
}

@Suite("CSV datasets")
struct CSVTests {
    let text = "a,b,label\r\n1, 2 ,0\n\"3\",4,1\n\n5,6,1\n"

    @Test("parses a header, quoted and padded fields, CRLF and blank lines")
    func parse() throws {
        let table = try CSVTable(text: text)
        #expect(table.columnNames == ["a", "b", "label"])
        #expect(table.rows == [[1, 2, 0], [3, 4, 1], [5, 6, 1]])
    }

    @Test("the target is the last column or a named one; the others are inputs in order")
    func target() throws {
        let last = try CSVDataset(table: CSVTable(text: text))
        #expect(last.featureNames == ["a", "b"] && last.targetName == "label")
        #expect(last.inputs.shape == [3, 2] && last.targets.shape == [3, 1] && last.targets.scalars == [0, 1, 1])
        let named = try CSVDataset(table: CSVTable(text: text), target: .named("a"))
        #expect(named.featureNames == ["b", "label"] && named.targets.scalars == [1, 3, 5])
        #expect(named.inputs.scalars == [2, 0, 4, 1, 6, 1])
    }

    @Test("columns by name, for prediction files without a target")
    func columnsByName() throws {
        let table = try CSVTable(text: text)
        let inputs = try table.values(ofColumns: ["b", "a"])
        #expect(inputs.shape == [3, 2] && inputs.scalars == [2, 1, 4, 3, 6, 5])
        #expect(throws: CSVError.unknownColumn(name: "c", available: ["a", "b", "label"])) { try table.values(ofColumns: ["c"]) }
    }

    @Test("standardisation: population statistics, exposed and reapplicable")
    func standardization() throws {
        let data = try CSVDataset(table: CSVTable(text: "x,c,y\n1,5,0\n2,5,1\n3,5,0\n"), standardize: true)
        let statistics = try #require(data.standardization)
        // mean 2, population std √(2/3); the constant column gets std 1 and maps to 0
        expectClose(statistics.mean, [2, 5])
        expectClose(statistics.standardDeviation, [0.816_496_6, 1])
        expectClose(data.inputs.scalars, [-1.224_744_9, 0, 0, 0, 1.224_744_9, 0])
        let later = try CSVDataset(table: CSVTable(text: "x,c,y\n4,5,1\n"), standardization: statistics)
        expectClose(later.inputs.scalars, [2.449_489_7, 0])
        let saved = Standardization(mean: statistics.mean, standardDeviation: statistics.standardDeviation)
        #expect(saved == statistics)
    }

    @Test("errors name the line and the column", arguments: [
        ("a,b\n1,2\n3\n", CSVError.wrongFieldCount(line: 3, expected: 2, found: 1)),
        ("a,b\n1,2\n3,x7\n", CSVError.notANumber(line: 3, column: "b", text: "x7")),
        ("a,b\n\n1,nan\n", CSVError.notANumber(line: 3, column: "b", text: "nan")),
        ("", CSVError.missingHeader),
        ("a,b\n", CSVError.noRows),
        ("a,a\n1,2\n", CSVError.duplicateColumn(name: "a")),
    ])
    func errors(text: String, expected: CSVError) {
        #expect(throws: expected) { try CSVTable(text: text) }
    }

    @Test("an unknown target column lists the columns; a single column leaves no inputs")
    func targetErrors() throws {
        #expect(throws: CSVError.unknownColumn(name: "z", available: ["a", "b", "label"])) {
            try CSVDataset(table: CSVTable(text: text), target: .named("z"))
        }
        #expect(throws: CSVError.noFeatureColumns) { try CSVDataset(table: CSVTable(text: "y\n1\n")) }
        let message = CSVError.notANumber(line: 3, column: "b", text: "x7").description
        #expect(message == "CSV line 3, column \"b\": \"x7\" is not a number")
    }

    @Test("a missing file is reported with its path")
    func missingFile() {
        #expect(throws: CSVError.self) { try CSVDataset(contentsOfFile: "/nonexistent/data.csv") }
    }
}
