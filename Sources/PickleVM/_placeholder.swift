// PickleVM
