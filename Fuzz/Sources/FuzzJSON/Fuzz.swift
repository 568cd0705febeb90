// Arbitrary bytes as JSON, through both readers of the JSONReader module: the tree reader, and
// the safetensors header's pull reader on the same text. They must agree: a header the pull
// reader accepts is JSON to the tree reader, and a JSON fault the pull reader reports is one the
// tree reader reports at the same offset.
import JSONReader
import ModelFormats

@inline(never) @_optimize(none) func blackHole<T>(_ value: T) {}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = UnsafeRawBufferPointer(start: data, count: size)
    var treeError: JSONError?
    do throws(JSONError) {
        blackHole(try JSONNode.parse(text, offsetBase: 8))
    } catch {
        treeError = error
    }
    var file = withUnsafeBytes(of: UInt64(size).littleEndian) { Array($0) }
    file.append(contentsOf: text)
    do {
        blackHole(try file.withUnsafeBytes { try SafetensorsHeader.parse(file: $0) })
        precondition(treeError == nil, "header accepted, tree refused: \(String(describing: treeError))")
    } catch let error as SafetensorsError {
        switch error {
        case .invalidJSON(let fault):
            precondition(treeError == fault, "pull reader \(fault), tree reader \(String(describing: treeError))")
        case .duplicateKey(_, _, let at):
            precondition(treeError?.offset == at, "pull reader \(error), tree reader \(String(describing: treeError))")
        case .invalidUTF8:
            precondition(treeError != nil, "invalid UTF-8 accepted by the tree reader")
        default:
            break
        }
    } catch {}
    return 0
}
