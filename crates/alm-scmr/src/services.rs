//! What the host scan reports about one Windows service: names, start account, binary, start
//! type and state, as MS-SCMR defines them (2.2.15 dwStartType, 2.2.47 dwCurrentState).

/// How the service starts (MS-SCMR 2.2.15 dwStartType).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StartType {
    Boot,
    System,
    Automatic,
    Manual,
    Disabled,
    /// The host sent a value MS-SCMR does not define, or the configuration was unreadable.
    Unknown,
}

impl StartType {
    pub fn from_code(code: u32) -> Self {
        match code {
            0 => StartType::Boot,
            1 => StartType::System,
            2 => StartType::Automatic,
            3 => StartType::Manual,
            4 => StartType::Disabled,
            _ => StartType::Unknown,
        }
    }
}

/// The service's state at the time of the scan (MS-SCMR 2.2.47 dwCurrentState).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceState {
    Stopped,
    StartPending,
    StopPending,
    Running,
    ContinuePending,
    PausePending,
    Paused,
    Unknown,
}

impl ServiceState {
    pub fn from_code(code: u32) -> Self {
        match code {
            1 => ServiceState::Stopped,
            2 => ServiceState::StartPending,
            3 => ServiceState::StopPending,
            4 => ServiceState::Running,
            5 => ServiceState::ContinuePending,
            6 => ServiceState::PausePending,
            7 => ServiceState::Paused,
            _ => ServiceState::Unknown,
        }
    }
}

/// One Win32 service of a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEntry {
    /// The service (key) name, e.g. "Spooler".
    pub name: String,
    pub display_name: String,
    /// lpServiceStartName: the account it runs as, e.g. "LocalSystem",
    /// "NT AUTHORITY\LocalService", "CORP\svc_x", ".\local" or "svc_x@corp.example".
    /// Empty when `config_error` is set.
    pub start_name: String,
    pub binary_path: String,
    pub start_type: StartType,
    pub state: ServiceState,
    /// Why the host would not show this service's configuration (the service is still
    /// listed: it exists, only its account is unknown).
    pub config_error: Option<String>,
}
