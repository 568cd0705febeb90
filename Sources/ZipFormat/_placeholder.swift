// ZipFormat
