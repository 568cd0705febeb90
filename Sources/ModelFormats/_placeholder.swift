// ModelFormats
