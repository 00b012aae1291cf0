//! Reading HDFS failures: the kind of an hdfs-native error, including the Java exception that
//! the NameNode sent back, and its message without the stack trace.

use hdfs_native::HdfsError;

use super::error::{io_kind, Failure};
use super::LakeErrorKind;

impl From<HdfsError> for Failure {
    fn from(err: HdfsError) -> Self {
        Failure::new(hdfs_kind(&err), hdfs_cause(&err))
    }
}

fn hdfs_kind(err: &HdfsError) -> LakeErrorKind {
    match err {
        HdfsError::FileNotFound(_) => LakeErrorKind::NotFound,
        HdfsError::AlreadyExists(_) => LakeErrorKind::AlreadyExists,
        HdfsError::IOError(io) => io_kind(io),
        HdfsError::DataTransferError(_) | HdfsError::BlocksNotFound(_) => {
            LakeErrorKind::Unreachable
        }
        HdfsError::InvalidPath(_) => LakeErrorKind::InvalidPath,
        HdfsError::RPCError(class, msg) | HdfsError::FatalRPCError(class, msg) => {
            rpc_kind(class, msg)
        }
        _ => LakeErrorKind::Other,
    }
}

/// Classifies a Java exception sent back by the NameNode.
fn rpc_kind(class: &str, msg: &str) -> LakeErrorKind {
    match simple_name(class) {
        "FileNotFoundException" => LakeErrorKind::NotFound,
        "FileAlreadyExistsException" | "AlreadyBeingCreatedException" => {
            LakeErrorKind::AlreadyExists
        }
        "AccessControlException" => LakeErrorKind::PermissionDenied,
        "SafeModeException" => LakeErrorKind::SafeMode,
        "RetriableException" if msg.to_ascii_lowercase().contains("safe mode") => {
            LakeErrorKind::SafeMode
        }
        "StandbyException" | "RetriableException" => LakeErrorKind::Unreachable,
        // "File … could only be written to 0 of the 1 minReplication nodes. There are 1
        // datanode(s) running and 1 node(s) are excluded": no DataNode can take the block now.
        "IOException" if msg.contains("could only be written to 0 of the") => {
            LakeErrorKind::NoDataNode
        }
        _ => LakeErrorKind::Other,
    }
}

/// A Java class name without its package.
fn simple_name(class: &str) -> &str {
    class.rsplit('.').next().unwrap_or(class)
}

/// The NameNode's message without its Java stack trace (hdfs-native keeps it in the message).
fn hdfs_cause(err: &HdfsError) -> String {
    let text = match err {
        HdfsError::RPCError(class, msg) | HdfsError::FatalRPCError(class, msg) => {
            format!("{}: {msg}", simple_name(class))
        }
        other => other.to_string(),
    };
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_namenode_exceptions() {
        assert_eq!(
            rpc_kind(
                "org.apache.hadoop.security.AccessControlException",
                "denied"
            ),
            LakeErrorKind::PermissionDenied
        );
        assert_eq!(
            rpc_kind(
                "org.apache.hadoop.hdfs.server.namenode.SafeModeException",
                "x"
            ),
            LakeErrorKind::SafeMode
        );
        assert_eq!(
            rpc_kind(
                "org.apache.hadoop.ipc.RetriableException",
                "NameNode still not started: Safe mode is ON"
            ),
            LakeErrorKind::SafeMode
        );
        assert_eq!(
            rpc_kind(
                "java.io.IOException",
                "File /a could only be written to 0 of the 1 minReplication nodes. There are 1 \
                 datanode(s) running and 1 node(s) are excluded in this operation."
            ),
            LakeErrorKind::NoDataNode
        );
        assert!(LakeErrorKind::NoDataNode.is_transient());
        assert_eq!(
            rpc_kind("java.io.FileNotFoundException", "x"),
            LakeErrorKind::NotFound
        );
        assert_eq!(
            rpc_kind("org.apache.hadoop.fs.FileAlreadyExistsException", "x"),
            LakeErrorKind::AlreadyExists
        );
        assert!(LakeErrorKind::Unreachable.is_transient());
        assert!(!LakeErrorKind::AlreadyExists.is_transient());
    }

    #[test]
    fn causes_drop_the_stack_trace() {
        let err = HdfsError::RPCError(
            "org.apache.hadoop.security.AccessControlException".into(),
            "denied\n\tat org.apache.hadoop.X".into(),
        );
        assert_eq!(hdfs_cause(&err), "AccessControlException: denied");
    }
}
