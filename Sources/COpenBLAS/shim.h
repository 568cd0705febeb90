#pragma once
// OpenBLAS's declarations (libopenblas-dev). The library itself is not linked: TensorCore opens
// libopenblas.so.0 on first use, so that commands which never multiply matrices do not pay for
// loading it and starting its threads.
#include <cblas.h>
