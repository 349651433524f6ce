//! RFC 7016 §3.5.2 and Appendix A: congestion control.
