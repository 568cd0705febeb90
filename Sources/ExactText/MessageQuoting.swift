extension String {
    /// The string in plain double quotes, for error and warning messages: the text is kept
    /// exactly as read (control characters, line breaks and format characters included), so a
    /// program reading the message sees the file's own text. Showing it is the command's job: its
    /// one escaping step (docs/security.md, "Showing text from files") makes the line safe for a
    /// terminal, and escaping here as well would show every escape twice.
    public var quotedForMessage: String { "\"" + self + "\"" }
}
