import HTTP1
import Propagation

/// The codec knows nothing of tracing; this is where its head becomes a propagation carrier.
extension HTTPHead: HeaderSource {}
