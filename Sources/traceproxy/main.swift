print("traceproxy")
