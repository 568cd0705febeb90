import ArgumentParser
@main struct ModelfileCommand: ParsableCommand {}
