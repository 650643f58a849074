// Package notify is the pure part of telling people about runs: which stepline state
// changes are worth a notification (Kind), the commit status each sets (StatusFor), the AWS
// Chatbot custom notification and SNS subject of each (Notify), and the link to a run
// (Links). Nothing here does I/O: the notify function reads the event and the run's record,
// calls these, and posts with commitstatus and SNS.
package notify
