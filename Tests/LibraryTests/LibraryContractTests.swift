import Foundation
import ModelFile
import TestSupport
import Testing

/// Every line of the library contract through `import ModelFile` alone, against the values PyTorch
/// and the reference libraries computed (ContractChecks.swift; one test case per section).
@Suite("The library contract")
struct LibraryContractTests {
    @Test("contract section", arguments: ContractRun.sections.map(\.name))
    func section(_ name: String) throws {
        let work = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: work) }
        let run = try ContractRun(root: Fixture.packageRoot.path, work: work.path)
        let section = try #require(ContractRun.sections.first { $0.name == name })
        try section.run(run)
        #expect(!run.lines.isEmpty)
        for failure in run.failures { Issue.record(Comment(rawValue: failure)) }
    }
}
