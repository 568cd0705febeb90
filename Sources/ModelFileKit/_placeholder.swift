// ModelFileKit
