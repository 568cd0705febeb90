import CCrypto

/// A streaming SHA-256 or SHA-1 digest (OpenSSL's libcrypto, which uses the CPU's SHA
/// instructions where present).
public final class Digest {
    /// The algorithms used: SHA-256 for LFS blobs, SHA-1 for huggingface_hub's local-folder names.
    public enum Algorithm: Sendable { case sha256, sha1 }
    private let context: OpaquePointer
    private let algorithm: Algorithm

    /// A fresh digest.
    public init(_ algorithm: Algorithm = .sha256) {
        // EVP_MD_CTX_new only fails when memory is exhausted, which traps elsewhere too.
        guard let context = EVP_MD_CTX_new() else { preconditionFailure("libcrypto could not allocate a digest context") }
        self.context = context
        self.algorithm = algorithm
        reset()
    }

    /// Forgets everything added so far.
    public func reset() {
        EVP_DigestInit_ex(context, algorithm == .sha256 ? EVP_sha256() : EVP_sha1(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds `bytes`.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    /// Adds `bytes`.
    public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The digest of everything added, as bytes; the digest cannot be used afterwards.
    public func finish() -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 64)
        var length: UInt32 = 0
        output.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(context, $0.baseAddress, &length) }
        return Array(output.prefix(Int(length)))
    }

    /// Lower-case hex of `bytes`.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes { text.append(digits[Int(byte >> 4)]); text.append(digits[Int(byte & 0x0F)]) }
        return String(decoding: text, as: UTF8.self)
    }

    /// Whether `text` is 64 lower- or upper-case hex digits: the form of an LFS blob id (a SHA-256).
    public static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || ($0 >= 0x41 && $0 <= 0x46) }
    }
}
