"""Real ``benchmark_model`` outputs, verbatim (whitespace aside), for the parser and the fake adb.

Sources: the TFLite measurement docs (tensorflow/lite/g3doc/performance/measurement.md, the
Android benchmark app's logcat line); the format strings of
tensorflow/lite/tools/benchmark/benchmark_model.cc; and outputs published in public READMEs:
mobilenet_v1 on RISC-V QEMU with op profiling (NobuoTsukamoto/meta-tensorflow-lite), YOLOv5s
on a Xiaomi Mi11 (an older build printing "Peak memory footprint"), a ChromeOS ML benchmark
note (XNNPACK delegate line, periodic peak memory), and an Android logcat capture of a newer
build printing p5/median/p95.
"""

# tensorflow/lite/g3doc/performance/measurement.md (Android benchmark app, via logcat)
DOCS_APP_LOGCAT = "... tflite  : Average inference timings in us: Warmup: 91471, Init: 4108, Inference: 80660.1\n"

# NobuoTsukamoto/meta-tensorflow-lite README: benchmark_model --enable_op_profiling=true on RISC-V QEMU
RISCV_OP_PROFILING = """\
STARTING!
Log parameter values verbosely: [0]
Num threads: [4]
Graph: [./mobilenet_v1_1.0_224.tflite]
Enable op profiling: [1]
#threads used for CPU inference: [4]
Loaded model ./mobilenet_v1_1.0_224.tflite
The input model file size (MB): 16.9008
Initialized session in 17.187ms.
Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
count=1 curr=3512391

Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
count=50 first=2990275 curr=2913402 min=2727568 max=3189954 avg=2.95034e+06 std=109798

Inference timings in us: Init: 17187, First inference: 3512391, Warmup (avg): 3.51239e+06, Inference (avg): 2.95034e+06
Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
Memory footprint delta from the start of the tool (MB): init=4.21094 overall=46.0859
Profiling Info for Benchmark Initialization:
============================== Run Order ==============================
\t             [node type]\t          [start]\t  [first]\t [avg ms]\t     [%]\t  [cdf%]\t  [mem KB]\t[times called]\t[Name]
\t         AllocateTensors\t            0.000\t    1.356\t    1.356\t100.000%\t100.000%\t     0.000\t        1\tAllocateTensors/0

Timings (microseconds): count=1 curr=1356
Memory (bytes): count=0
1 nodes observed

Number of nodes executed: 31
Timings (microseconds): count=50 first=2989660 curr=2912978 min=2727203 max=3189476 avg=2.9499e+06 std=109770
Memory (bytes): count=0
31 nodes observed
"""

# A public README benchmarking YOLOv5s fp32 on a Xiaomi Mi11 (TensorFlow v2.4.0 benchmark_model)
MI11_OLD_BUILD = """\
count=50 first=249042 curr=250889 min=247067 max=254474 avg=249684 std=1442
Inference timings in us: Init: 16242, First inference: 360262, Warmup (avg): 304586, Inference (avg): 249684
Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
Peak memory footprint (MB): init=4.92969 overall=138.809
"""

# A ChromeOS ML benchmark note: benchmark_model --min_secs=60 --report_peak_memory_footprint=true (CPU)
CHROMEOS_XNNPACK = """\
INFO: Created TensorFlow Lite XNNPACK delegate for CPU.
VERBOSE: Replacing 58 out of 58 node(s) with delegate (TfLiteXNNPackDelegate) node, yielding 1 partitions for the whole graph.
INFO: Initialized session in 3.337ms.
INFO: count=9 first=81913 curr=55502 min=55502 max=81913 avg=58984.7 std=8115
INFO: count=1061 first=56576 curr=56299 min=54669 max=60236 avg=56265.8 std=982
INFO: Inference timings in us: Init: 3337, First inference: 81913, Warmup (avg): 58984.7, Inference (avg): 56265.8
INFO: Overall peak memory footprint (MB) via periodic monitoring: 93.2383
"""

# An Android logcat capture (adb logcat -s tflite) of a newer build with percentiles
LOGCAT_PERCENTILES = """\
07-14 13:14:52.097 22838 22838 I tflite  : Log parameter values verbosely: [0]
07-14 13:14:52.097 22838 22838 I tflite  : Min num runs: [25]
07-14 13:14:52.097 22838 22838 I tflite  : Num threads: [4]
07-14 13:14:52.097 22838 22838 I tflite  : Graph: [/data/local/tmp/best_int8.tflite]
07-14 13:14:52.098 22838 22838 I tflite  : Loaded model /data/local/tmp/best_int8.tflite
07-14 13:14:52.113 22838 22838 I tflite  : Created TensorFlow Lite XNNPACK delegate for CPU.
07-14 13:14:52.113 22838 22838 I tflite  : Replacing 539 out of 548 node(s) with delegate (TfLiteXNNPackDelegate) node, yielding 19 partitions for subgraph 0.
07-14 13:14:52.190 22838 22838 I tflite  : The input model file size (MB): 3.06409
07-14 13:14:52.190 22838 22838 I tflite  : Initialized session in 92.318ms.
07-14 13:14:52.859 22838 22838 I tflite  : count=3 first=235158 curr=200386 min=199462 max=235158 avg=211669 std=16613 p5=199462 median=200386 p95=235158
07-14 13:14:56.520 22838 22838 I tflite  : count=25 first=187533 curr=140990 min=140071 max=195121 avg=145528 std=13583 p5=140545 median=141253 p95=187533
07-14 13:14:56.521 22838 22838 I tflite  : Inference timings in us: Init: 92318, First inference: 187533, Warmup (avg): 211669, Inference (avg): 145528
07-14 13:14:56.521 22838 22838 I tflite  : Memory footprint delta from the start of the tool (MB): init=54.2852 overall=73.4102
"""

# Not a captured run: composed from benchmark_model's own error messages for a file it cannot load
# (TFLITE_LOG(ERROR) << "Failed to mmap model " << graph; ... "Benchmarking failed.").
FAILED_LOAD = """\
STARTING!
Graph: [m0.tflite]
ERROR: The model is not a valid Flatbuffer buffer
ERROR: Failed to mmap model m0.tflite
ERROR: Benchmarking failed.
"""
