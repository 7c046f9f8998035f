import CEpoll
import Dispatch
