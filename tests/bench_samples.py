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

# benchmark_model --enable_op_profiling=true: the per-op section of the same RISC-V run (the
# NobuoTsukamoto/meta-tensorflow-lite README, mobilenet_v1_1.0_224, 4 threads, builtin kernels),
# an older build with a [start] column; rows 5-26 of its 31 left out here.
MNV1_OP_PROFILING = """\
Operator-wise Profiling Info for Regular Benchmark Runs:
============================== Run Order ==============================
\t             [node type]\t          [start]\t  [first]\t [avg ms]\t     [%]\t  [cdf%]\t  [mem KB]\t[times called]\t[Name]
\t                 CONV_2D\t            0.066\t   87.754\t   60.957\t  2.066%\t  2.066%\t     0.000\t        1\t[MobilenetV1/MobilenetV1/Conv2d_0/Relu6]:0
\t       DEPTHWISE_CONV_2D\t           61.033\t   53.628\t   49.870\t  1.691%\t  3.757%\t     0.000\t        1\t[MobilenetV1/MobilenetV1/Conv2d_1_depthwise/Relu6]:1
\t                 CONV_2D\t          110.912\t  134.346\t  147.808\t  5.011%\t  8.768%\t     0.000\t        1\t[MobilenetV1/MobilenetV1/Conv2d_1_pointwise/Relu6]:2
\t       DEPTHWISE_CONV_2D\t          258.730\t   27.363\t   34.010\t  1.153%\t  9.921%\t     0.000\t        1\t[MobilenetV1/MobilenetV1/Conv2d_2_depthwise/Relu6]:3
\t                 CONV_2D\t          292.750\t  125.424\t  135.911\t  4.607%\t 14.528%\t     0.000\t        1\t[MobilenetV1/MobilenetV1/Conv2d_2_pointwise/Relu6]:4
\t         AVERAGE_POOL_2D\t         2936.930\t    0.828\t    0.869\t  0.029%\t 99.578%\t     0.000\t        1\t[MobilenetV1/Logits/AvgPool_1a/AvgPool]:27
\t                 CONV_2D\t         2937.801\t   11.354\t   12.185\t  0.413%\t 99.992%\t     0.000\t        1\t[MobilenetV1/Logits/Conv2d_1c_1x1/BiasAdd]:28
\t                 SQUEEZE\t         2949.993\t    0.013\t    0.017\t  0.001%\t 99.992%\t     0.000\t        1\t[MobilenetV1/Logits/SpatialSqueeze]:29
\t                 SOFTMAX\t         2950.011\t    0.230\t    0.233\t  0.008%\t100.000%\t     0.000\t        1\t[MobilenetV1/Predictions/Reshape_1]:30

============================== Top by Computation Time ==============================
\t             [node type]\t          [start]\t  [first]\t [avg ms]\t     [%]\t  [cdf%]\t  [mem KB]\t[times called]\t[Name]
\t                 CONV_2D\t          292.750\t  125.424\t  135.911\t  4.607%\t 14.528%\t     0.000\t        1\t[MobilenetV1/MobilenetV1/Conv2d_2_pointwise/Relu6]:4

Number of nodes executed: 31
"""

# A newer x86-64 build profiling inside XNNPACK (a public notes README: efficientdet-lite0 int8,
# `linux_x86-64_benchmark_model --enable_op_profiling=true`): no [start] column, one row per
# XNNPACK operator, [avg ms] per call; the first 9 of its rows.
XNNPACK_OP_PROFILING = """\
INFO: Operator-wise Profiling Info for Regular Benchmark Runs:
============================== Run Order ==============================
                                     [node type]          [first]        [avg ms]            [%]          [cdf%]          [mem KB]        [times called]  [Name]
                                        QUANTIZE            0.199           0.203         1.328%          1.328%             0.000                1       [tfl.quantize]:0
                   Convolution (NHWC, QC8) IGEMM            0.398           0.407         2.658%          3.986%             0.000                1       Delegate/Convolution (NHWC, QC8) IGEMM:0
                  Convolution (NHWC, QC8) DWConv            0.428           0.051         4.317%          8.304%             0.000               13       Delegate/Convolution (NHWC, QC8) DWConv:1
                    Convolution (NHWC, QC8) GEMM            0.125           0.023         1.944%         10.248%             0.000               13       Delegate/Convolution (NHWC, QC8) GEMM:2
                    Convolution (NHWC, QC8) GEMM            0.464           0.473         3.087%         13.334%             0.000                1       Delegate/Convolution (NHWC, QC8) GEMM:3
                  Convolution (NHWC, QC8) DWConv            0.385           0.320         2.088%         15.423%             0.000                1       Delegate/Convolution (NHWC, QC8) DWConv:4
                    Convolution (NHWC, QC8) GEMM            0.110           0.109         0.709%         16.132%             0.000                1       Delegate/Convolution (NHWC, QC8) GEMM:5
                    Convolution (NHWC, QC8) GEMM            0.203           0.066         1.713%         17.845%             0.000                4       Delegate/Convolution (NHWC, QC8) GEMM:6
                                   Add (ND, QS8)            0.024           0.024         0.156%         22.580%             0.000                1       Delegate/Add (ND, QS8):9

"""
