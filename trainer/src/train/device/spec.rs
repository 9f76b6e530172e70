//! `--device`: where a run's gradient steps execute.

use std::fmt;
use std::str::FromStr;

/// Where the gradient steps of a run execute. Parsed from `cpu`, `candle-cpu`, `cuda` or `cuda:N`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The hand-written BPTT on the CPU (the default, and the fastest on a CPU).
    #[default]
    Cpu,
    /// The accelerator step ([`super::DeviceTrainer`]) on candle's CPU backend: slow; checks the
    /// GPU code path where no GPU is.
    CandleCpu,
    /// CUDA GPU number N (`cuda` is `cuda:0`).
    Cuda(usize),
}

impl FromStr for DeviceSpec {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.trim() {
            "cpu" => Ok(DeviceSpec::Cpu),
            "candle-cpu" => Ok(DeviceSpec::CandleCpu),
            "cuda" | "gpu" => Ok(DeviceSpec::Cuda(0)),
            other => {
                if let Some(n) = other.strip_prefix("cuda:") {
                    let n: usize = n.parse().map_err(|_| {
                        anyhow::anyhow!(
                            "device {other:?}: the GPU number after cuda: must be 0, 1, ..."
                        )
                    })?;
                    Ok(DeviceSpec::Cuda(n))
                } else {
                    anyhow::bail!(
                        "unknown device {other:?}: expected cpu, cuda, cuda:N or candle-cpu"
                    )
                }
            }
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::CandleCpu => f.write_str("candle-cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceSpec {
    /// Whether this binary can run on the device at all (`cuda` needs the `cuda` feature).
    pub fn compiled_in(self) -> bool {
        !matches!(self, DeviceSpec::Cuda(_)) || cfg!(feature = "cuda")
    }

    /// The candle device for [`DeviceTrainer`](super::DeviceTrainer); None for [`DeviceSpec::Cpu`]
    /// (the hand-written trainer needs none). Errors say what is missing: the feature, the driver
    /// or the GPU.
    pub fn open(self) -> anyhow::Result<Option<candle_core::Device>> {
        match self {
            DeviceSpec::Cpu => Ok(None),
            DeviceSpec::CandleCpu => Ok(Some(candle_core::Device::Cpu)),
            DeviceSpec::Cuda(n) => open_cuda(n).map(Some),
        }
    }
}

#[cfg(feature = "cuda")]
fn open_cuda(n: usize) -> anyhow::Result<candle_core::Device> {
    candle_core::Device::new_cuda(n).map_err(|e| {
        // candle appends a backtrace to driver errors: keep the message.
        let e = e.to_string();
        let e = e.lines().next().unwrap_or_default();
        anyhow::anyhow!(
            "no usable CUDA GPU number {n}: {e}\n(check `nvidia-smi`; the binary needs the NVIDIA \
             driver and the CUDA 13 libraries libcublas, libcublasLt, libcurand, libnvrtc and \
             libcudart on the library path: trainer/gpu/run.sh sets it up from PyTorch's)"
        )
    })
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(n: usize) -> anyhow::Result<candle_core::Device> {
    anyhow::bail!(
        "--device cuda:{n}: this gyrus was built without GPU support. Rebuild it with \
         `cargo build --release -p gyrus-trainer --features cuda` on a machine with nvcc, or with \
         trainer/gpu/build.sh on one without (README, \"Training on a GPU\")"
    )
}
